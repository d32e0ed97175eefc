"""Which account may act now, and leases so one account is driven by one worker.

Leases are conditional UPDATEs (works the same on PostgreSQL and SQLite): a
worker owns an account or a target while `..._until` is in the future, and a
crashed worker's lease simply runs out.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, F, Q

from leadops import ratelimit
from telegram_sources.limits import limiter_key

from ..models import JoinTarget, TelegramAccount

LEASE = timedelta(minutes=15)  # longer than one join plus its checks; renewed per target


def usable_accounts(*, now: datetime, exclude: set[int] = frozenset()):
    """Least recently used first: active (or back from a cooldown), under both limits, not leased."""
    day_ago = now - timedelta(hours=24)
    return (
        TelegramAccount.objects.filter(
            status__in=[
                TelegramAccount.Status.ACTIVE,
                TelegramAccount.Status.FLOOD_WAIT,
                TelegramAccount.Status.COOLDOWN,
            ],
            channels_joined_count__lt=settings.JOINER_MAX_CHANNELS_PER_ACCOUNT,
        )
        .filter(Q(next_allowed_action_time__isnull=True) | Q(next_allowed_action_time__lte=now))
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .exclude(pk__in=exclude)
        .annotate(joins_today=Count("targets", filter=Q(targets__joined_at__gt=day_ago)))
        .filter(joins_today__lt=settings.JOINER_MAX_JOINS_PER_DAY)
        .order_by(F("last_action_at").asc(nulls_first=True), "pk")
    )


def lease_account(*, owner: str, now: datetime, exclude: set[int] = frozenset()) -> TelegramAccount | None:
    """Take the least recently used usable account for `owner`, or None."""
    for account in usable_accounts(now=now, exclude=exclude):
        if ratelimit.blocked_until(limiter_key(account.session_name)):
            continue  # a FloodWait another job ran into: the limiter knows before the row does
        taken = TelegramAccount.objects.filter(
            Q(locked_until__isnull=True) | Q(locked_until__lte=now), pk=account.pk
        ).update(locked_by=owner, locked_until=now + LEASE)
        if taken:
            account.refresh_from_db()
            if account.status != TelegramAccount.Status.ACTIVE:
                account.status = TelegramAccount.Status.ACTIVE  # its wait is over: back by itself
                account.save(update_fields=["status"])
            return account
    return None


def release_account(account: TelegramAccount, *, owner: str) -> None:
    TelegramAccount.objects.filter(pk=account.pk, locked_by=owner).update(locked_by="", locked_until=None)


def claim_target(
    *, niche: str, owner: str, now: datetime, skip: set[int] = frozenset(), only: set[int] | None = None
) -> JoinTarget | None:
    """The oldest new target of the niche (among `only`, when given) nobody else holds, now held by `owner`."""
    queue = JoinTarget.objects.filter(niche=niche, status=JoinTarget.Status.NEW)
    if only is not None:
        queue = queue.filter(pk__in=only)
    queue = (
        queue.filter(Q(claimed_until__isnull=True) | Q(claimed_until__lte=now))
        .exclude(pk__in=skip)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)
    )
    for pk in queue[:50]:
        taken = JoinTarget.objects.filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lte=now), pk=pk, status=JoinTarget.Status.NEW
        ).update(claimed_by=owner, claimed_until=now + LEASE)
        if taken:
            return JoinTarget.objects.get(pk=pk)
    return None


def release_target(target: JoinTarget, *, owner: str) -> None:
    JoinTarget.objects.filter(pk=target.pk, claimed_by=owner).update(claimed_by="", claimed_until=None)
