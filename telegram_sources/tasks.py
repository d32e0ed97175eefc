"""Celery tasks: thin. They take ids, run one service, and decide about retries.

Exports are checkpointed, so running one twice is harmless: acks_late is on.
A FloodWait up to TELEGRAM_FLOOD_WAIT_MAX re-queues the task to resume after
the wait (the account is blocked in the limiter meanwhile, for every worker);
a longer one stops the job and the operator decides.
"""

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from leadops.jobs import mark_waiting
from leadops.models import JobRun

from .gateway import FloodWait
from .services.jobs import run_group_export, run_reference_refresh

EXPORT_LIMITS = {"soft_time_limit": 4 * 3600, "time_limit": 4 * 3600 + 300, "acks_late": True}


def _retry_after_flood_wait(task, job_id: int, exc: FloodWait):
    if exc.seconds > settings.TELEGRAM_FLOOD_WAIT_MAX:
        raise exc
    resume_at = timezone.now() + timedelta(seconds=exc.seconds)
    mark_waiting(job_id, f"FloodWait {exc.seconds} s: resumes from its checkpoint at {resume_at:%H:%M:%S} UTC")
    raise task.retry(exc=exc, countdown=exc.seconds + 1, max_retries=20)


@shared_task(bind=True, **EXPORT_LIMITS)
def export_group_task(self, group_id: int, job_id: int, account: str | None = None) -> None:
    try:
        run_group_export(group_id=group_id, job_id=job_id, account=account)
    except FloodWait as exc:
        _retry_after_flood_wait(self, job_id, exc)


@shared_task(bind=True, **EXPORT_LIMITS)
def refresh_reference_task(self, job_id: int, account: str | None = None) -> None:
    try:
        run_reference_refresh(job_id=job_id, account=account)
    except FloodWait as exc:
        _retry_after_flood_wait(self, job_id, exc)


@shared_task
def scheduled_reference_refresh() -> None:
    """What the daily beat entry runs: a reference refresh with its own JobRun."""
    from .services.starters import start_reference_refresh

    start_reference_refresh(trigger=JobRun.Trigger.SCHEDULE)


@shared_task(soft_time_limit=30 * 60, time_limit=30 * 60 + 120)
def refresh_genders_task() -> int:
    """Beat: estimate the gender of users an export or import left without one (idempotent)."""
    from .services.gender import refresh_genders

    return refresh_genders()
