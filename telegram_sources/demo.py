"""Demo data: the fake Telegram's groups as rows, and real export jobs to fill them."""

from datetime import date

from leadops.models import JobRun

from .fake_world import demo_world
from .models import TelegramGroup
from .services.starters import start_group_export, start_reference_refresh

EVENT_DATES = {-1001000000011: date(2024, 2, 10), -1001000000012: date(2024, 9, 14), -1001000000013: date(2025, 5, 20)}
REFERENCE_ID = -1001000000001


def load_demo_groups() -> list[JobRun]:
    """Create the demo world's groups and start their exports on the worker.

    The big chat is left for the operator: its export shows the search sweep
    (a few minutes at 4 requests per second), started with the admin action.
    """
    world = demo_world()
    for group in world.groups.values():
        kind = TelegramGroup.Kind.EVENT if group.id in EVENT_DATES else TelegramGroup.Kind.OTHER
        if group.id == REFERENCE_ID:
            kind = TelegramGroup.Kind.REFERENCE
        TelegramGroup.objects.update_or_create(
            telegram_id=group.id,
            defaults={
                "title": group.title,
                "username": group.username or "",
                "kind": kind,
                "event_date": EVENT_DATES.get(group.id),
            },
        )
    jobs = [start_reference_refresh(trigger=JobRun.Trigger.COMMAND)]
    for group in TelegramGroup.objects.filter(kind=TelegramGroup.Kind.EVENT).order_by("event_date"):
        jobs.append(start_group_export(group=group, trigger=JobRun.Trigger.COMMAND))
    return jobs
