import pytest

from tests.emulators.vk import VkEmulator
from vk_sync.models import VkCommunity, VkToken

SECRETS = [f"synthetic-vk-token-{n}" for n in range(5)]


@pytest.fixture
def vk(settings):
    """The VK emulator with one community (id 1), listening on loopback."""
    with VkEmulator() as emulator:
        settings.VK_API_URL = emulator.url
        yield emulator


@pytest.fixture
def vk_tokens(vk, transactional_db):
    """Three user tokens, known to the emulator and stored (encrypted) in the database."""

    def make(count=3, kind="user"):
        rows = []
        for n, secret in enumerate(SECRETS[:count]):
            vk.add_token(secret, kind, label=f"token-{n}")
            rows.append(VkToken.objects.create(kind=kind, label=f"token-{n}", token=secret))
        return rows

    return make


@pytest.fixture
def vk_community(vk, transactional_db):
    def make(members, group_id=1):
        group = vk.add_group(group_id, "Synthetic community", screen_name="synthetic_club", members=members)
        community = VkCommunity.objects.create(id=group_id, screen_name="synthetic_club", name="Synthetic community")
        return community, group

    return make
