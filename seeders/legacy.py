"""Seed 000's `stale*` keys in members.json: imported as stale marks, exported back.

Registered from SeedersConfig.ready() on telegram_sources' hooks (that app never
imports this one):

- import (`register_import_hook`): every member's `stale`, `stale_set_at`,
  `stale_until`, `stale_reason` are validated with the rest of the file, before
  anything is written; then, inside the import's transaction, the members with stale
  data get one StaleMark each, all in ONE SeederBatch(is_legacy_import=True,
  reason "legacy import <ISO now>") per import run.
- export (`register_row_extender`): the keys are written back from the user's most
  relevant mark, in seed 000's key order; users never marked get no stale* keys, as
  the playbook's files had.

What a member's keys mean (the playbook: "not active stale = no stale_until in the future"):

- The times decide, as they do for the playbook's selection: a mark is imported as
  it is, active or expired (expired marks are history), whatever `stale` says. So
  `stale: false` with times is imported as that mark (active if its stale_until is in
  the future — the playbook would skip that member too), and the export writes `stale`
  as "an active mark exists".
- `stale: true` without `stale_until`: stale_set_at + SEEDERS_STALE_DAYS (the
  playbook's "по умолчанию 180 дней"); without either time it is refused, and so is
  a stale_set_at without stale_until when `stale` is not true (active or not? unknown).
- A mark with `stale_until` but no `stale_set_at` was set SEEDERS_STALE_DAYS before
  it ends (deterministic, so re-importing finds it). `stale_until` before `stale_set_at` is refused.
- No times and `stale` false/absent: no mark (a lone stale_reason is ignored).
- Times are ISO 8601, a time without offset is UTC; `stale_reason` is a string (or null).
- Re-importing a file never duplicates: a mark identical in user, set_at and until to
  an existing one (revoked ones included, so an old file cannot resurrect a rolled-back
  mark) is skipped, and a run with nothing new creates no batch.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from leadops.bulk import chunked
from telegram_sources.services.legacy_files import _describe

from .models import SeederBatch, StaleMark

HOOK_NAME = "seeders.stale"
KEYS = ("stale", "stale_set_at", "stale_until", "stale_reason")
LEGACY_REASON_PREFIX = "legacy import"
REASON_MAX = StaleMark._meta.get_field("reason").max_length
PREFETCH_TO = "legacy_unrevoked_marks"
BATCH = 1000  # marks per INSERT


@dataclass(frozen=True)
class LegacyStale:
    """One member's stale keys, validated: the mark they describe."""

    set_at: datetime
    until: datetime
    reason: str


# --- import ------------------------------------------------------------------------------------


def parse_stale(item) -> LegacyStale | None:
    """The validation pass (telegram_sources' MemberParser): LegacyFileError via item.fail."""
    raw = item.raw
    stale = None
    if item.present("stale"):
        stale = item.flag("stale")
    set_at = item.time("stale_set_at")
    until = item.time("stale_until")
    reason = raw.get("stale_reason")
    if reason is not None:
        if not isinstance(reason, str):
            item.fail("stale_reason", f"must be a string or null, got {_describe(reason)}")
        if len(reason) > REASON_MAX:
            item.fail("stale_reason", f"longer than {REASON_MAX} characters")
    if set_at is None and until is None:
        if stale:
            item.fail("stale_until", 'missing: "stale" is true but neither stale_until nor stale_set_at is given')
        return None
    days = timedelta(days=settings.SEEDERS_STALE_DAYS)
    if until is None:
        if not stale:
            item.fail("stale_until", 'missing: stale_set_at without stale_until needs "stale": true')
        until = set_at + days
    if set_at is None:
        set_at = until - days  # deterministic, so a re-import finds the same mark
    if until < set_at:
        item.fail("stale_until", f"{until.isoformat()} is before stale_set_at {set_at.isoformat()}")
    return LegacyStale(set_at=set_at, until=until, reason=reason or "")


def apply_stale(pairs) -> str | None:
    """Inside import_members' transaction: one legacy batch, one mark per new (user, set_at, until)."""
    now = timezone.now()
    user_ids = sorted({user.pk for _, user in pairs})
    existing = set()
    for chunk in chunked(user_ids):
        existing.update(StaleMark.objects.filter(user_id__in=chunk).values_list("user_id", "set_at", "until"))
    new: list[tuple] = []
    for member, user in pairs:
        stale: LegacyStale = member.extra[HOOK_NAME]
        key = (user.pk, stale.set_at, stale.until)
        if key in existing:
            continue
        existing.add(key)
        new.append((user, stale))
    skipped = len(pairs) - len(new)
    if not new:
        return f"stale marks: {skipped} already imported" if skipped else None
    batch = SeederBatch.objects.create(
        created_at=now,
        created_by=None,
        reason=f"{LEGACY_REASON_PREFIX} {now.isoformat(timespec='seconds')}",
        is_legacy_import=True,
    )
    StaleMark.objects.bulk_create(
        (StaleMark(user=user, batch=batch, set_at=s.set_at, until=s.until, reason=s.reason) for user, s in new),
        batch_size=BATCH,
    )
    active = sum(1 for _, s in new if s.until > now)
    return (
        f"{len(new)} stale marks imported in seeder batch {batch.pk} "
        f"({active} active, {len(new) - active} expired; {skipped} already imported)"
    )


# --- export ------------------------------------------------------------------------------------


def prepare_export(queryset: QuerySet) -> QuerySet:
    """Each user's unrevoked marks in one query per chunk, not one per user."""
    marks = StaleMark.objects.filter(revoked_at__isnull=True).order_by("-until", "-set_at", "-pk")
    return queryset.prefetch_related(Prefetch("stale_marks", queryset=marks, to_attr=PREFETCH_TO))


def relevant_mark(marks, now: datetime) -> StaleMark | None:
    """The active mark lasting longest; else the latest set unrevoked one; else None."""
    marks = [m for m in marks if m.revoked_at is None]
    active = [m for m in marks if m.until > now]
    if active:
        return max(active, key=lambda m: (m.until, m.set_at, m.pk))
    return max(marks, key=lambda m: (m.set_at, m.until, m.pk), default=None)


def extend_row(user, row: dict) -> None:
    marks = getattr(user, PREFETCH_TO, None)
    if marks is None:  # a queryset that did not go through prepare_export
        marks = list(user.stale_marks.filter(revoked_at__isnull=True))
    now = timezone.now()
    mark = relevant_mark(marks, now)
    if mark is None:
        return
    row["stale"] = mark.until > now
    row["stale_set_at"] = _iso(mark.set_at)
    row["stale_until"] = _iso(mark.until)
    row["stale_reason"] = mark.reason or None


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


def register() -> None:
    """Called from SeedersConfig.ready(); registering again replaces, never duplicates."""
    from telegram_sources.services.legacy import register_import_hook
    from telegram_sources.services.legacy_export import register_row_extender

    register_import_hook(HOOK_NAME, parse=parse_stale, apply=apply_stale)
    register_row_extender(extend_row, prepare=prepare_export)
