"""Services for JobRun: start a job (enqueued after commit) and report its progress.

A service that runs long takes a `JobRun` id and wraps its work in
`track_job(job_id)`; the admin and the dashboard read what it writes.

Cancel is cooperative: `request_cancel` sets a flag on the row, the reporter
sees it (at most once a second, with its progress write) and raises
`JobCancelled` between two reports, i.e. between chunks, so what a finished
chunk committed stays and nothing is left half-written.
"""

import logging
import traceback
import uuid
from contextlib import contextmanager
from time import monotonic

from celery.exceptions import Ignore, SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from .logging import bind_job_id, scrub, unbind_job_id
from .models import JobRun

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 50
FLUSH_INTERVAL = 1.0  # seconds: progress is written at most this often, plus at the end


class JobCancelled(BaseException):
    """An operator cancelled the job: the reporter raises it between chunks, `track_job` records it.

    A BaseException, like asyncio.CancelledError: services wrap chunks in `except Exception`
    to retry them or count failures, and a cancel must go through those, not be retried.
    """


class JobWasCancelled(Ignore):
    """What `track_job` raises once the cancel is recorded, so the caller does not go on as if
    the work were done. A Celery `Ignore`: the worker acks the message and records no failure."""


def create_job(*, kind: str, target: str = "", trigger: str = JobRun.Trigger.USER, user=None) -> JobRun:
    return JobRun.objects.create(
        kind=kind, target=str(target)[:255], trigger=trigger, triggered_by=user if user and user.pk else None
    )


def start_job(
    *, kind: str, task, target: str = "", trigger: str = JobRun.Trigger.USER, user=None, task_kwargs=None
) -> JobRun:
    """Create a JobRun and enqueue `task(job_id=..., **task_kwargs)` once the surrounding transaction commits.

    Task arguments are ids and names, never secrets (they sit in the broker).

    The task id is chosen here, so the row knows its Celery task before the
    worker does, and a rolled-back transaction enqueues nothing.
    """
    with transaction.atomic():
        job = create_job(kind=kind, target=target, trigger=trigger, user=user)
        job.celery_task_id = str(uuid.uuid4())
        job.save(update_fields=["celery_task_id"])
        kwargs = {**(task_kwargs or {}), "job_id": job.pk}
        transaction.on_commit(lambda: task.apply_async(kwargs=kwargs, task_id=job.celery_task_id))
    return job


def active_job(*, kind: str, target: str) -> JobRun | None:
    """The queued or running job of that kind on that target, if any."""
    running = JobRun.objects.filter(kind=kind, target=str(target)[:255], status__in=JobRun.ACTIVE_STATUSES)
    return running.order_by("-created_at", "-pk").first()


def start_job_once(*, kind: str, task, target: str, **options) -> JobRun:
    """Like start_job, but returns the job already queued or running on that target instead of a second one.

    Two runs of one job on one target would fetch everything twice and race on what they write.
    """
    return active_job(kind=kind, target=target) or start_job(kind=kind, task=task, target=target, **options)


def request_cancel(job: JobRun, *, user=None) -> JobRun:
    """Ask a queued or running job to stop; returns the row as it is now.

    The flag on the row is what stops a running job: its reporter sees it within about
    a second and stops between chunks. A job still in the queue is cancelled at once.
    Either way its Celery task is revoked, so a worker that has not started it (a queued
    task, a FloodWait retry, a redelivery) drops it. A running task is not terminated:
    a kill in the middle of a chunk could leave that chunk half-written.
    """
    now = timezone.now()
    with transaction.atomic():
        row = JobRun.objects.select_for_update().get(pk=job.pk)
        if not row.is_active:
            return row
        fields = {"cancel_requested_at": row.cancel_requested_at or now, "updated_at": now}
        if row.cancel_requested_at is None:
            fields["cancel_requested_by"] = user if user and user.pk else None
        if row.status == JobRun.Status.QUEUED:  # nothing of it runs: no reporter will record the ending
            who = f" by {user.get_username()}" if user and user.pk else ""
            lines = [*row.log_tail.splitlines(), f"{now:%H:%M:%S} cancelled{who} before it started"]
            fields.update(status=JobRun.Status.CANCELLED, finished_at=now, log_tail="\n".join(lines[-LOG_TAIL_LINES:]))
        JobRun.objects.filter(pk=row.pk).update(**fields)
        if row.celery_task_id:
            task_id = row.celery_task_id
            transaction.on_commit(lambda: _revoke(task_id))
    return JobRun.objects.get(pk=row.pk)


def _revoke(task_id: str) -> None:
    from .celery import app  # the Celery app imports Django settings: import it when needed

    try:
        app.control.revoke(task_id)  # no terminate: see request_cancel
    except Exception:  # the broker is unreachable: the flag still stops the task when it runs
        log.warning("could not revoke task %s; its job stops by the cancel flag", task_id, exc_info=True)


class JobReporter:
    """What a running service uses to say how far it got. Writes are throttled.

    Each progress write also looks at the cancel flag (so at most once per FLUSH_INTERVAL)
    and raises JobCancelled when it is set; once seen, every later report raises too.
    """

    def __init__(self, job: JobRun):
        self.job = job
        self._dirty = False
        self._last_flush = 0.0
        self._cancelled = False
        self._watching = True  # False while track_job records the ending: that must not raise again

    def check_cancelled(self) -> None:
        """Raise JobCancelled if an operator asked to stop. The reports check by themselves;
        call this before a step that cannot be stopped halfway (one big apply), to not start it."""
        if not self._watching:
            return
        if not self._cancelled:
            self._cancelled = JobRun.objects.filter(pk=self.job.pk, cancel_requested_at__isnull=False).exists()
        if self._cancelled:
            raise JobCancelled(f"job #{self.job.pk} was cancelled")

    def set_total(self, total: int | None):
        self.job.progress_total = total
        self._touch(force=True)

    def advance(self, n: int = 1):
        self.job.progress_done += n
        self._touch()

    def count(self, name: str, n: int = 1):
        self.job.counters[name] = self.job.counters.get(name, 0) + n
        self._touch()

    def log(self, message: str):
        message = scrub(message)  # the log tail is shown in the admin: no secret goes in
        stamp = timezone.now().strftime("%H:%M:%S")
        lines = (self.job.log_tail.splitlines() + [f"{stamp} {message}"])[-LOG_TAIL_LINES:]
        self.job.log_tail = "\n".join(lines)
        log.info("job %s: %s", self.job.pk, message)
        self._touch()

    def _touch(self, force: bool = False):
        self._dirty = True
        if self._cancelled and self._watching:  # another thread of this job saw the cancel
            raise JobCancelled(f"job #{self.job.pk} was cancelled")
        if force or monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()
            self.check_cancelled()

    def flush(self, **extra):
        fields = {
            "progress_done": self.job.progress_done,
            "progress_total": self.job.progress_total,
            "counters": self.job.counters,
            "log_tail": self.job.log_tail,
            "updated_at": timezone.now(),
            **extra,
        }
        JobRun.objects.filter(pk=self.job.pk).update(**fields)
        for name, value in extra.items():
            setattr(self.job, name, value)
        self._dirty = False
        self._last_flush = monotonic()


@contextmanager
def track_job(job_id: int):
    """Mark the job running, hand out a reporter, and record how it ended.

    An exception marks the job failed with its message (the traceback goes to
    the log tail) and is re-raised, so Celery's retry policy still applies.
    A cancel (JobCancelled from the reporter) marks it cancelled and raises
    JobWasCancelled; a job cancelled before it started does not run at all.
    """
    job = JobRun.objects.get(pk=job_id)
    reporter = JobReporter(job)
    _begin(reporter)
    log_binding = bind_job_id(job_id)  # every line logged inside the job carries its id
    try:
        yield reporter
    except JobCancelled:
        _end_cancelled(reporter, "stopped between steps; what the finished steps wrote stays")
        raise JobWasCancelled(f"job #{job_id} was cancelled") from None
    except SoftTimeLimitExceeded:
        reporter._watching = False
        reporter.log("stopped: time limit reached")
        reporter.flush(status=JobRun.Status.FAILED, error="time limit reached", finished_at=timezone.now())
        raise
    except Exception as exc:
        reporter._watching = False
        reporter.log("".join(traceback.format_exception_only(exc)).strip())
        error = scrub(f"{type(exc).__name__}: {exc}")  # shown in the admin, like the log tail
        reporter.flush(status=JobRun.Status.FAILED, error=error, finished_at=timezone.now())
        raise
    else:
        reporter.flush(status=JobRun.Status.SUCCEEDED, finished_at=timezone.now())
    finally:
        unbind_job_id(log_binding)


def _begin(reporter: JobReporter) -> None:
    """Mark the job running, unless it was cancelled while it waited in the queue (a revoke
    reaches only the workers up at that moment): then record that and raise JobWasCancelled."""
    job, now = reporter.job, timezone.now()
    fields = {"status": JobRun.Status.RUNNING, "started_at": now, "finished_at": None, "error": "", "updated_at": now}
    # One conditional UPDATE: it waits for request_cancel's row lock and then sees its flag.
    if not JobRun.objects.filter(pk=job.pk, cancel_requested_at__isnull=True).update(**fields):
        _end_cancelled(reporter, "a worker picked it up after the cancel: not started")
        raise JobWasCancelled(f"job #{job.pk} was cancelled before it started")
    for name, value in fields.items():
        setattr(job, name, value)
    reporter._last_flush = monotonic()


def _end_cancelled(reporter: JobReporter, note: str) -> None:
    reporter._watching = False
    who = JobRun.objects.filter(pk=reporter.job.pk).values_list("cancel_requested_by__username", flat=True).first()
    reporter.log(f"cancelled{f' by {who}' if who else ''}: {note}")
    reporter.flush(status=JobRun.Status.CANCELLED, finished_at=timezone.now())


def mark_waiting(job_id: int, message: str) -> None:
    """A job that stopped on purpose and will resume by itself (a retry is scheduled).

    One cancelled meanwhile is marked cancelled instead: its retry is revoked, and should
    it run anyway, track_job drops it."""
    job = JobRun.objects.get(pk=job_id)
    reporter = JobReporter(job)
    reporter._watching = False
    if job.cancel_requested_at:
        _end_cancelled(reporter, f"it will not resume ({message})")
        return
    reporter.log(message)
    reporter.flush(status=JobRun.Status.QUEUED, error=message, finished_at=None)
