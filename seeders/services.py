"""Writes: approve exactly the ten the reviewer saw, roll a batch back. Both are
all-or-nothing, and both leave an admin LogEntry behind."""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import transaction
from django.utils import timezone

from telegram_sources.models import TelegramUser

from . import selectors
from .models import SeederBatch, StaleMark
from .rows import seeder_row

REASON_PREFIX = "seeders-next-top10"


@dataclass
class ApprovalResult:
    batch: SeederBatch | None
    reason: str = ""  # why nothing was written

    @property
    def ok(self) -> bool:
        return self.batch is not None


def preview(n: int | None = None) -> list[dict]:
    return [seeder_row(user) for user in selectors.top_candidates(n)]


def verify(top: int = 30) -> list[dict]:
    return [seeder_row(user) for user in selectors.verify_rows(top)]


def approve(*, ids: list[int], user=None, now=None) -> ApprovalResult:
    """Mark exactly `ids` stale, if they are still exactly the top-N; otherwise write nothing.

    The submitted users' rows are locked first, so a second approval of the same
    preview waits for the first, then finds the top-N changed and is refused.
    """
    n = settings.SEEDERS_BATCH_SIZE
    ids = [int(i) for i in ids]
    if len(ids) != n or len(set(ids)) != n:
        return ApprovalResult(None, f"approve takes exactly {n} distinct ids, got {len(set(ids))}")
    with transaction.atomic():
        list(TelegramUser.objects.select_for_update().filter(telegram_id__in=ids).order_by("pk"))
        now = now or timezone.now()
        if not selectors.reference_is_fresh(now=now):
            return ApprovalResult(None, _stale_reference_reason(now))
        top = selectors.top_candidates(n, at=now)
        if {u.telegram_id for u in top} != set(ids):
            return ApprovalResult(
                None,
                "the top-10 changed since this preview (another batch was approved, or the reference group or "
                "offline counts changed): preview again and approve what it shows",
            )
        reason = f"{REASON_PREFIX} {now.isoformat(timespec='seconds')}"
        batch = SeederBatch.objects.create(
            created_by=user if user and user.pk else None,
            created_at=now,
            reason=reason,
            reference_snapshot_at=selectors.reference_snapshot_at(),
            rows_before=[seeder_row(u, at=now) for u in top],
        )
        until = now + timedelta(days=settings.SEEDERS_STALE_DAYS)
        StaleMark.objects.bulk_create(
            StaleMark(user=u, batch=batch, set_at=now, until=until, reason=reason) for u in top
        )
        _log(user, batch, f"approved {n} seeders: {', '.join(map(str, sorted(ids)))}")
    return ApprovalResult(batch)


def rollback(*, batch: SeederBatch, user=None) -> str:
    """Revoke the batch's marks (they stay, revoked); a second rollback changes nothing."""
    with transaction.atomic():
        batch = SeederBatch.objects.select_for_update().get(pk=batch.pk)
        if batch.status == SeederBatch.Status.ROLLED_BACK:
            return f"batch {batch.pk} was already rolled back at {batch.rolled_back_at:%Y-%m-%d %H:%M}; nothing changed"
        now = timezone.now()
        by = user if user and user.pk else None
        revoked = batch.marks.filter(revoked_at__isnull=True).update(revoked_at=now, revoked_by=by)
        batch.status = SeederBatch.Status.ROLLED_BACK
        batch.rolled_back_at = now
        batch.rolled_back_by = by
        batch.save(update_fields=["status", "rolled_back_at", "rolled_back_by"])
        _log(user, batch, f"rolled back: {revoked} stale marks revoked")
    return f"batch {batch.pk} rolled back: {revoked} stale marks revoked, those users are candidates again"


def _stale_reference_reason(now) -> str:
    age = selectors.reference_age(now=now)
    limit = settings.REFERENCE_MAX_AGE_HOURS
    if age is None:
        return "the reference group has never been exported: refresh it before approving"
    return f"the reference snapshot is {age.total_seconds() / 3600:.0f} h old (limit {limit} h): refresh it first"


def _log(user, batch: SeederBatch, message: str) -> None:
    if not (user and user.pk):
        return  # LogEntry needs a user; command-line runs without --user are in the batch itself
    LogEntry.objects.log_actions(
        user_id=user.pk,
        queryset=[batch],
        action_flag=CHANGE,
        change_message=message,
        single_object=True,
    )
