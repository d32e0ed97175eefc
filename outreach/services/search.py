"""Yandex deferred search: start the due queries, poll their operations, ingest what is done.

A query is claimed with SKIP LOCKED (PostgreSQL), so two schedulers never start it
twice. Polling errors are retried with backoff (the original failed an operation on
its first polling error and never tried again); an operation older than 12 hours is
failed with that reason, because Yandex keeps results no longer than that.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from leadops.http import HttpError

from ..models import SerpOperation, SerpQuery
from ..serp import SerpParseError, parse_serp_page
from ..yandex import OutsideNightWindow, YandexClient, YandexConfigError, YandexError, YandexUnavailable
from .ingest import fail_operation, ingest_page

MAX_ATTEMPTS = 3  # a query that failed to start this many times is failed
RETRY_START_AFTER = timedelta(minutes=10)
FIRST_POLL_AFTER = timedelta(minutes=1)
MAX_POLL_BACKOFF = timedelta(minutes=15)
RESULTS_EXPIRE = timedelta(hours=12)
# A run that claimed a query starts it within seconds; one claimed this long ago without an
# operation belongs to a run that died, and goes back to the queue.
CLAIM_LOST_AFTER = timedelta(minutes=15)


@dataclass
class RunCounts:
    started: int = 0
    done: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "started": self.started,
            "done": self.done,
            "failed": self.failed,
            "waiting": self.waiting,
            "errors": len(self.errors),
        }


def _claim_due(now: datetime, limit: int) -> list[SerpQuery]:
    with transaction.atomic():
        SerpQuery.objects.filter(
            status=SerpQuery.Status.IN_PROGRESS, operations__isnull=True, claimed_at__lt=now - CLAIM_LOST_AFTER
        ).update(status=SerpQuery.Status.PENDING, claimed_at=None)
        due = (
            SerpQuery.objects.select_for_update(skip_locked=True)
            .filter(status=SerpQuery.Status.PENDING, scheduled_for__lte=now)
            .order_by("scheduled_for", "pk")[:limit]
        )
        claimed = list(due)
        SerpQuery.objects.filter(pk__in=[q.pk for q in claimed]).update(
            status=SerpQuery.Status.IN_PROGRESS, claimed_at=now
        )
    return claimed


def start_due_queries(
    *, client: YandexClient | None = None, now: datetime | None = None, limit: int = 100
) -> RunCounts:
    client = client or YandexClient()
    now = now or timezone.now()
    run = RunCounts()
    claimed = _claim_due(now, limit)
    for index, query in enumerate(claimed):
        try:
            operation_id = client.search_async(query.text, query.lr)
        except (OutsideNightWindow, YandexConfigError, YandexUnavailable) as exc:
            # Not the query's fault: it goes back to the queue untouched, and neither it
            # nor the rest of this run's claims can start until the night / the config /
            # Yandex is back.
            _release(query, error="" if isinstance(exc, OutsideNightWindow) else f"{type(exc).__name__}: {exc}")
            for untried in claimed[index + 1 :]:
                _release(untried, error="")
            if isinstance(exc, YandexConfigError):
                raise
            run.errors.append(f"{query}: {exc}")
            break
        except (YandexError, HttpError, ValueError) as exc:
            attempts = query.attempts + 1
            failed = attempts >= MAX_ATTEMPTS
            SerpQuery.objects.filter(pk=query.pk).update(
                status=SerpQuery.Status.FAILED if failed else SerpQuery.Status.PENDING,
                attempts=attempts,
                last_error=f"{type(exc).__name__}: {exc}"[:2000],
                scheduled_for=query.scheduled_for if failed else now + RETRY_START_AFTER,
            )
            run.errors.append(f"{query}: {exc}")
            run.failed += failed
            continue
        with transaction.atomic():
            SerpOperation.objects.create(
                query=query, operation_id=operation_id, requested_at=now, next_poll_at=now + FIRST_POLL_AFTER
            )
            SerpQuery.objects.filter(pk=query.pk).update(attempts=query.attempts + 1, last_error="")
        run.started += 1
    return run


def _release(query: SerpQuery, *, error: str) -> None:
    fields = {"status": SerpQuery.Status.PENDING}
    if error:
        fields["last_error"] = error[:2000]
    SerpQuery.objects.filter(pk=query.pk, status=SerpQuery.Status.IN_PROGRESS).update(**fields)


def poll_operations(*, client: YandexClient | None = None, now: datetime | None = None, limit: int = 200) -> RunCounts:
    client = client or YandexClient()
    now = now or timezone.now()
    run = RunCounts()
    due = SerpOperation.objects.filter(status=SerpOperation.Status.CREATED, next_poll_at__lte=now).select_related(
        "query"
    )
    for operation in due.order_by("next_poll_at", "pk")[:limit]:
        if now - operation.requested_at > RESULTS_EXPIRE:
            fail_operation(operation, "the operation is older than 12 hours: Yandex no longer keeps its results")
            run.failed += 1
            continue
        try:
            result = client.get_operation(operation.operation_id, requested_at=operation.requested_at)
        except YandexConfigError:
            raise  # a revoked key: every poll would fail the same way, the operator must act
        except (YandexError, HttpError) as exc:  # transient or not, polling again later costs nothing
            _later(operation, now, error=f"{type(exc).__name__}: {exc}")
            run.errors.append(f"{operation}: {exc}")
            continue
        if not result.done:
            _later(operation, now)
            run.waiting += 1
            continue
        if result.error:
            fail_operation(operation, _error_text(result.error))
            run.failed += 1
            continue
        try:
            page = parse_serp_page(result.raw_data)
        except SerpParseError as exc:
            fail_operation(operation, str(exc))
            run.failed += 1
            run.errors.append(f"{operation}: {exc}")
            continue
        ingest_page(operation=operation, page=page)
        run.done += 1
    return run


def _error_text(error: dict) -> str:
    message = str(error.get("message") or "").strip()
    code = error.get("code")
    return f"{message} ({code})" if code and message else message or str(code or error)


def _later(operation: SerpOperation, now: datetime, error: str = "") -> None:
    wait = min(FIRST_POLL_AFTER * (2 ** min(operation.retries, 10)), MAX_POLL_BACKOFF)
    fields = {"retries": operation.retries + 1, "next_poll_at": now + wait}
    if error:
        fields["error_payload"] = {"last_poll_error": error}
    SerpOperation.objects.filter(pk=operation.pk).update(**fields)
