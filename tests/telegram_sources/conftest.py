import pytest

from leadops.jobs import create_job
from telegram_sources.fake_gateway import FakeTelegramGateway
from telegram_sources.fake_world import FakeWorld


@pytest.fixture
def world():
    """An empty fake Telegram for the test to populate; the demo world comes back afterwards."""
    fresh = FakeWorld()
    FakeTelegramGateway.use_world(fresh)
    yield fresh
    FakeTelegramGateway.use_world(None)


@pytest.fixture
def new_job(db):
    return lambda kind="tg-export": create_job(kind=kind)
