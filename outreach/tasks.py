"""Celery tasks for outreach: thin, each runs one step (the beat entries in outreach/schedules.py)."""

from celery import shared_task


@shared_task(soft_time_limit=10 * 60, time_limit=11 * 60)
def sync_sheet_task() -> dict:
    from .services.sheet_sync import sync_sheet

    return sync_sheet().counts()


@shared_task(soft_time_limit=5 * 60, time_limit=6 * 60)
def search_task() -> dict:
    from .services.search import start_due_queries

    return start_due_queries().counts()


@shared_task(soft_time_limit=10 * 60, time_limit=11 * 60)
def poll_task() -> dict:
    from .services.search import poll_operations

    return poll_operations().counts()


@shared_task(soft_time_limit=10 * 60, time_limit=11 * 60)
def dedupe_task() -> dict:
    from .services.companies import dedupe

    return dedupe()
