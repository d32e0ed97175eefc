"""Demo data for VK: the emulator's tokens and community, and a first subscriber sync."""

from urllib.parse import urlsplit

from django.conf import settings

from leadops.models import JobRun

from .models import VkCommunity, VkToken, VkTokenCommunity

# The emulator's demo tokens (tests/emulators/run_vk.py): not credentials of anything real.
DEMO_TOKENS = {
    "demo-1": ("demo-vk-token-1", "user"),
    "demo-2": ("demo-vk-token-2", "user"),
    "demo-3": ("demo-vk-token-3", "service"),
}


def emulator_configured() -> bool:
    """Demo data only ever goes to the local emulator, never to the real VK."""
    return urlsplit(settings.VK_API_URL).hostname in ("127.0.0.1", "localhost")


def load_demo_vk() -> JobRun | None:
    from .services.starters import start_subscriber_sync

    if not emulator_configured():
        return None
    for label, (secret, kind) in DEMO_TOKENS.items():
        VkToken.objects.get_or_create(label=label, defaults={"token": secret, "kind": kind})
    community, _ = VkCommunity.objects.get_or_create(
        id=1, defaults={"screen_name": "demo_vk_club", "name": "Demo VK community"}
    )
    own, _ = VkToken.objects.get_or_create(
        label="demo-community", defaults={"token": "demo-vk-community-token", "kind": VkToken.Kind.COMMUNITY}
    )
    VkTokenCommunity.objects.get_or_create(token=own, community=community, defaults={"admin_level": 3})
    return start_subscriber_sync(community=community, trigger=JobRun.Trigger.COMMAND)
