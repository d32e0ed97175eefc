"""Celery tasks for the Smart Joiner: thin. They take names and ids and run one service.

Not acks_late, and no automatic retries: a join that ran but was not
acknowledged (a worker lost mid-batch) must not run again by itself, since
joining twice is not harmless. The groups it did not reach stay new and the
next scheduled batch takes them.
"""

import logging

from celery import shared_task
from django.conf import settings

from leadops.models import JobRun

from .services.joiner import NoUsableAccount, pause_range, run_join_batch
from .services.starters import (
    DEFAULT_BATCH_SIZE,
    MAX_BATCH_SIZE,
    active_join_job,
    niches_with_new_targets,
    start_join_batch,
)

log = logging.getLogger(__name__)


def _join_time_limit() -> int:
    """Seconds for a batch of MAX_BATCH_SIZE groups at their longest.

    Per group: the longest pause after it (a success pause, the error pause, or a
    FloodWait sat out, which is at most TELEGRAM_FLOOD_WAIT_MAX), plus two minutes
    for the join and the can-post check under the rate limiter. With the defaults:
    10 x (600 + 120) s = 2 h.
    """
    longest_pause = max(
        pause_range(settings.JOINER_PAUSE_SUCCESS)[1], settings.JOINER_PAUSE_ERROR, settings.TELEGRAM_FLOOD_WAIT_MAX
    )
    return int(MAX_BATCH_SIZE * (longest_pause + 120))


JOIN_LIMITS = {"soft_time_limit": _join_time_limit(), "time_limit": _join_time_limit() + 300, "acks_late": False}


@shared_task(**JOIN_LIMITS)
def join_batch_task(niche: str, batch_size: int, job_id: int, target_ids: list[int] | None = None) -> str:
    try:
        return run_join_batch(niche=niche, batch_size=batch_size, job_id=job_id, target_ids=target_ids).summary()
    except NoUsableAccount as exc:
        # The JobRun already says failed, and why; retrying now would find no account either.
        return f"not started: {exc}"


@shared_task
def scheduled_join_batches() -> list[int]:
    """What the beat entry runs: one join batch per niche with new targets, unless one is still active there.

    Returns the ids of the jobs it started.
    """
    started = []
    for niche in niches_with_new_targets():
        if active := active_join_job(niche):
            log.info("join batches: niche %r skipped, job #%s is still %s", niche, active.pk, active.status)
            continue
        job = start_join_batch(niche=niche, batch_size=DEFAULT_BATCH_SIZE, trigger=JobRun.Trigger.SCHEDULE)
        started.append(job.pk)
    return started
