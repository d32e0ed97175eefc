"""Celery tasks for outreach: thin, one per pipeline step (outreach.steps); beat entries in schedules.py.

A step that cannot run as configured (no sheet, no key, no offer brief) fails its
task with that one line.
"""

from celery import shared_task

from . import steps

SHORT = {"soft_time_limit": 5 * 60, "time_limit": 6 * 60}
LONG = {"soft_time_limit": 10 * 60, "time_limit": 11 * 60}


@shared_task(**LONG)
def sync_sheet_task(batch_tag: str | None = None) -> dict:
    return steps.run_step("sync-sheet", batch_tag=batch_tag)


@shared_task(**SHORT)
def search_task() -> dict:
    return steps.run_step("search")


@shared_task(**LONG)
def poll_task() -> dict:
    return steps.run_step("poll")


@shared_task(**LONG)
def dedupe_task() -> dict:
    return steps.run_step("dedupe")


@shared_task(**LONG)
def enrich_task() -> dict:
    return steps.run_step("enrich")


@shared_task(**LONG)
def generate_task() -> dict:
    return steps.run_step("generate")


@shared_task(**SHORT)
def queue_task() -> dict:
    return steps.run_step("queue")


@shared_task(**LONG)
def deliver_task() -> dict:
    return steps.run_step("deliver")


@shared_task(soft_time_limit=30 * 60, time_limit=31 * 60)
def run_once_task(job_id: int) -> dict:
    return steps.run_once_job(job_id=job_id)
