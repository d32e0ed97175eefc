import pytest

from accounts.models import JoinTarget, TelegramAccount
from telegram_sources.fake_gateway import FakeTelegramGateway
from telegram_sources.fake_world import FakeWorld, synthetic_people


@pytest.fixture
def world():
    fresh = FakeWorld()
    FakeTelegramGateway.use_world(fresh)
    yield fresh
    FakeTelegramGateway.use_world(None)


@pytest.fixture
def joiner_settings(settings):
    settings.TELEGRAM_RPS = 1000
    settings.JOINER_PAUSE_SUCCESS = "300-600"
    settings.JOINER_PAUSE_ERROR = 60
    settings.TELEGRAM_FLOOD_WAIT_MAX = 600
    return settings


@pytest.fixture
def make_account(db):
    def make(name, **fields):
        return TelegramAccount.objects.create(
            session_name=name, api_id="12345", api_hash="synthetic-hash", string_session="synthetic-session", **fields
        )

    return make


@pytest.fixture
def make_groups(world):
    """Public groups @chat_<n> in the fake world, each with a few synthetic members."""

    def make(count, start=0, **options):
        for n in range(start, start + count):
            world.add_group(
                -1005000000000 - n, f"Chat {n}", synthetic_people(5, seed=n), username=f"chat_{n:03d}", **options
            )

    return make


@pytest.fixture
def make_targets(db):
    def make(usernames, niche="cars"):
        return [JoinTarget.objects.create(link=f"https://t.me/{u}", username=f"@{u}", niche=niche) for u in usernames]

    return make


@pytest.fixture
def fake_world(settings, clock):
    """Four public chats (@chat_000..003) and no pauses: for admin and command tests that run a batch."""
    settings.TELEGRAM_RPS = 1000
    settings.JOINER_PAUSE_SUCCESS = "0"
    settings.JOINER_PAUSE_ERROR = 0
    world = FakeWorld()
    for n in range(4):
        world.add_group(-1005000000000 - n, f"Chat {n}", synthetic_people(3, seed=n), username=f"chat_{n:03d}")
    FakeTelegramGateway.use_world(world)
    yield world
    FakeTelegramGateway.use_world(None)
