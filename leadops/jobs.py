"""Services for JobRun: start a job (enqueued after commit) and report its progress.

A service that runs long takes a `JobRun` id and wraps its work in
`track_job(job_id)`; the admin and the dashboard read what it writes.
"""

import logging
import traceback
import uuid
from contextlib import contextmanager
from time import monotonic

from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction
from django.utils import timezone

from .models import JobRun

log = logging.getLogger(__name__)

LOG_TAIL_LINES = 50
FLUSH_INTERVAL = 1.0  # seconds: progress is written at most this often, plus at the end


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


class JobReporter:
    """What a running service uses to say how far it got. Writes are throttled."""

    def __init__(self, job: JobRun):
        self.job = job
        self._dirty = False
        self._last_flush = 0.0

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
        stamp = timezone.now().strftime("%H:%M:%S")
        lines = (self.job.log_tail.splitlines() + [f"{stamp} {message}"])[-LOG_TAIL_LINES:]
        self.job.log_tail = "\n".join(lines)
        log.info("job %s: %s", self.job.pk, message)
        self._touch()

    def _touch(self, force: bool = False):
        self._dirty = True
        if force or monotonic() - self._last_flush >= FLUSH_INTERVAL:
            self.flush()

    def flush(self, **extra):
        fields = {
            "progress_done": self.job.progress_done,
            "progress_total": self.job.progress_total,
            "counters": self.job.counters,
            "log_tail": self.job.log_tail,
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
    """
    job = JobRun.objects.get(pk=job_id)
    reporter = JobReporter(job)
    reporter.flush(status=JobRun.Status.RUNNING, started_at=timezone.now(), finished_at=None, error="")
    try:
        yield reporter
    except SoftTimeLimitExceeded:
        reporter.log("stopped: time limit reached")
        reporter.flush(status=JobRun.Status.FAILED, error="time limit reached", finished_at=timezone.now())
        raise
    except Exception as exc:
        reporter.log("".join(traceback.format_exception_only(exc)).strip())
        reporter.flush(status=JobRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now())
        raise
    else:
        reporter.flush(status=JobRun.Status.SUCCEEDED, finished_at=timezone.now())


def mark_waiting(job_id: int, message: str) -> None:
    """A job that stopped on purpose and will resume by itself (a retry is scheduled)."""
    job = JobRun.objects.get(pk=job_id)
    reporter = JobReporter(job)
    reporter.log(message)
    reporter.flush(status=JobRun.Status.QUEUED, error=message, finished_at=None)
