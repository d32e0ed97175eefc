"""Start join batches: one JobRun each, enqueued on the worker once the transaction commits.

The admin actions and the beat entry start them through here; `manage.py
join_batch` runs the same service inline. At most one join job per niche is
queued or running: a second start returns the active one.
"""

from django.db.models import QuerySet

from leadops.jobs import active_job, start_job_once
from leadops.models import JobRun

from ..models import JoinTarget

JOIN_KIND = "tg-join"
DEFAULT_BATCH_SIZE = 5  # seed 003: 3-5 groups per run
MAX_BATCH_SIZE = 10  # the task's time limit is sized for this many groups (see tasks.JOIN_LIMITS)


def active_join_job(niche: str) -> JobRun | None:
    return active_job(kind=JOIN_KIND, target=niche)


def niches_with_new_targets() -> QuerySet:
    return (
        JoinTarget.objects.filter(status=JoinTarget.Status.NEW)
        .order_by("niche")
        .values_list("niche", flat=True)
        .distinct()
    )


def check_batch_size(batch_size: int) -> int:
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ValueError(f"batch size must be between 1 and {MAX_BATCH_SIZE}, got {batch_size}")
    return batch_size


def start_join_batch(
    *,
    niche: str,
    batch_size: int = DEFAULT_BATCH_SIZE,
    target_ids: list[int] | None = None,
    user=None,
    trigger: str = JobRun.Trigger.USER,
) -> JobRun:
    """Start a join batch for `niche` (only `target_ids`, when given), or return the one already active.

    The task gets names and ids only: the accounts' secrets never travel through the broker.
    """
    from ..tasks import join_batch_task  # the tasks module imports the services: import it late

    check_batch_size(batch_size)
    kwargs = {"niche": niche, "batch_size": batch_size}
    if target_ids is not None:
        kwargs["target_ids"] = sorted(int(pk) for pk in target_ids)
    return start_job_once(
        kind=JOIN_KIND, target=niche, task=join_batch_task, trigger=trigger, user=user, task_kwargs=kwargs
    )
