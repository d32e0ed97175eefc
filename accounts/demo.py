"""Demo data: a small pool of fake accounts and targets that show every joiner outcome."""

from datetime import timedelta

from django.utils import timezone

from leadops.models import JobRun

from .models import JoinTarget, TelegramAccount
from .services.starters import start_join_batch

DEMO_NICHE = "demo"
# Fake gateway only: these are not credentials of anything.
FAKE_SECRETS = {"api_id": "1", "api_hash": "demo-not-a-secret", "string_session": "demo-not-a-session"}
TARGETS = [
    ("https://t.me/demo_meetup_1", {"username": "@demo_meetup_1"}),  # joins
    ("t.me/demo_news", {"username": "@demo_news"}),  # joins, but cannot post in a channel
    ("https://t.me/+DemoInvite0001", {"invite_hash": "DemoInvite0001"}),  # private, by invite
    ("https://t.me/+DemoExpired001", {"invite_hash": "DemoExpired001"}),  # expired invite: error
    ("@demo_gone_away", {"username": "@demo_gone_away"}),  # username not occupied: error
    ("@demo_big_chat", {"username": "@demo_big_chat"}),  # left for the next batch
]


def load_demo_accounts() -> JobRun:
    for name in ("demo_promo_1", "demo_promo_2"):
        TelegramAccount.objects.get_or_create(session_name=name, defaults=FAKE_SECRETS)
    TelegramAccount.objects.update_or_create(
        session_name="demo_resting",
        defaults={
            **FAKE_SECRETS,
            "status": TelegramAccount.Status.COOLDOWN,
            "next_allowed_action_time": timezone.now() + timedelta(hours=2, minutes=13),
            "last_error": "FloodWait 8000 s",
        },
    )
    for link, ref in TARGETS:
        JoinTarget.objects.get_or_create(niche=DEMO_NICHE, **ref, defaults={"link": link})
    return start_join_batch(niche=DEMO_NICHE, batch_size=5, trigger=JobRun.Trigger.COMMAND)
