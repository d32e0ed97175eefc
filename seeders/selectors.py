"""Reads: the candidate order, the verify listing, the reference snapshot's age."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.utils import timezone

from telegram_sources.models import TelegramUser
from telegram_sources.selectors import find_reference_group

from .models import StaleMark

# The playbook's sort, made total: telegram_id breaks ties. The partial index
# tguser_seeder_candidates has exactly this order and condition.
CANDIDATE_ORDER = [
    F("offline_cnt").desc(),
    F("last_offline_at").desc(nulls_last=True),
    F("telegram_id").asc(nulls_last=True),
]


def _listable() -> QuerySet:
    """Not in the reference group, not a bot, with a Telegram id (approval names people by id)."""
    return TelegramUser.objects.filter(in_reference=False, is_bot=False, telegram_id__isnull=False)


def candidates(*, at: datetime | None = None) -> QuerySet:
    """Everyone who may be proposed, best first: one query, read off the index in order."""
    # NOT IN, not NOT EXISTS: PostgreSQL hashes the active marks once instead of
    # probing the marks index for every user the index scan passes on its way down.
    marked = StaleMark.objects.active(at).values("user_id")
    return _listable().exclude(pk__in=marked).order_by(*CANDIDATE_ORDER)


def top_candidates(n: int | None = None, *, at: datetime | None = None) -> list[TelegramUser]:
    """One query: the top ids come off the covering index alone (an index-only scan
    past however many stale users lead the order), then only those rows are read."""
    top_ids = candidates(at=at).values("pk")[: n or settings.SEEDERS_BATCH_SIZE]
    return list(TelegramUser.objects.filter(pk__in=top_ids).order_by(*CANDIDATE_ORDER))


def verify_rows(top: int = 30, *, at: datetime | None = None) -> list[TelegramUser]:
    """The playbook's check: the top not in the reference group, stale or not, with their active mark."""
    active = StaleMark.objects.active(at).filter(user=OuterRef("pk")).order_by("-until")
    return list(
        _listable()
        .annotate(
            stale_set_at=Subquery(active.values("set_at")[:1]),
            stale_until=Subquery(active.values("until")[:1]),
            stale_batch_id=Subquery(active.values("batch_id")[:1]),
        )
        .order_by(*CANDIDATE_ORDER)[:top]
    )


def reference_snapshot_at() -> datetime | None:
    """When the group REFERENCE_GROUP names was last exported (or imported), if it ever was."""
    group = find_reference_group()
    return group.last_exported_at if group else None


def reference_age(*, now: datetime | None = None) -> timedelta | None:
    snapshot = reference_snapshot_at()
    return None if snapshot is None else (now or timezone.now()) - snapshot


def reference_is_fresh(*, now: datetime | None = None) -> bool:
    age = reference_age(now=now)
    return age is not None and age <= timedelta(hours=settings.REFERENCE_MAX_AGE_HOURS)
