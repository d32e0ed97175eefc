"""Celery tasks of the core. Tasks are thin: they take ids, call one service.

Conventions for every app's tasks.py:
- arguments are ids, never secrets or model instances;
- soft/hard time limits are set per task (defaults in settings);
- transient failures retry with exponential backoff and jitter (RETRY_POLICY);
- `acks_late=True` only where running the task twice is harmless;
- enqueue through `leadops.jobs.start_job` or `transaction.on_commit`.
"""

from celery import shared_task

from . import selfcheck
from .http import TransientHttpError

RETRY_POLICY = {
    "autoretry_for": (TransientHttpError, ConnectionError, TimeoutError),
    "retry_backoff": 5,
    "retry_backoff_max": 600,
    "retry_jitter": True,
    "max_retries": 5,
}


@shared_task(acks_late=True, soft_time_limit=60, time_limit=90, **RETRY_POLICY)
def run_selfcheck(job_id: int) -> None:
    selfcheck.run(job_id=job_id)


@shared_task(soft_time_limit=2 * 60 * 60, time_limit=2 * 60 * 60 + 300)
def write_weekly_reports_task(job_id: int) -> int:
    """Every group's and community's report to media storage (leadops.report_store)."""
    from .report_store import write_weekly_reports

    return write_weekly_reports(job_id=job_id)


@shared_task
def scheduled_weekly_reports() -> int:
    """What the weekly beat entry runs: the reports job with its own JobRun."""
    from .models import JobRun
    from .report_store import start_weekly_reports

    return start_weekly_reports(trigger=JobRun.Trigger.SCHEDULE).pk


# Beat publishes this every minute ("Health heartbeat" in leadops/schedules.py). Publishing it is beat's
# proof of life (leadops.heartbeat records that in the beat process); running it only notes which worker
# took it. No result row: one a minute would flood django-celery-results. A tick older than a minute is
# worth nothing, so it expires instead of piling up while no worker runs.
@shared_task(bind=True, ignore_result=True, expires=55, soft_time_limit=10, time_limit=20)
def heartbeat(self) -> None:
    from .heartbeat import record_task_run

    record_task_run(hostname=self.request.hostname)
