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
