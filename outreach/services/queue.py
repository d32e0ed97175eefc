"""The queue: give each ready draft a mailbox and a send time, or skip it for good.

A draft is ready when the generator set `metadata["ready"] = True`. It is skipped
(status `skipped`, the reason in `last_error`) when its company is a duplicate or
opted out, its contact is not the company's primary, or the address, its domain or
the company's domain opted out. Otherwise a mailbox is chosen by the recipient's
route ("ru" when its MX is Russian-hosted, else "other"; a route without an active
mailbox borrows the other route's, noted in metadata), and the send time comes from
`outreach.window.next_slot`: after the mailbox's latest send plus a random pause
from OUTREACH_SPACING, inside OUTREACH_WINDOW, under the mailbox's daily cap.

Spacing and caps are per mailbox: a mailbox's own send sequence is what a receiving
server judges. Each message is scheduled in its own transaction that holds the
message row (SKIP LOCKED: a second queuer moves on to another draft) and then its
mailbox row (FOR UPDATE: a second queuer waits); the latest slot and the day's count
are read only after the mailbox lock is held, so two queuers running at once see
each other's slots and never put two sends of one mailbox closer than the minimum.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from ..models import OptOut, OutreachMessage, SenderMailbox
from ..optouts import is_opted_out, message_exclusion
from ..routing import OTHER, RU, RouteUnavailable, route_for_email
from ..window import SendingWindow, next_slot, parse_spacing, window_from_settings

Status = OutreachMessage.Status
# What occupies a mailbox's sequence and its daily cap. A failed message counts: the
# attempt reached (or tried to reach) the server all the same.
OCCUPYING = [Status.SCHEDULED, Status.SENDING, Status.SENT, Status.FAILED]
ROUTES = (RU, OTHER)


@dataclass
class QueueResult:
    scheduled: int = 0
    skipped: int = 0
    no_mailbox: int = 0  # left as drafts: no active mailbox on either route
    deferred: int = 0  # left as drafts: the route could not be told for now (MX lookup failed)

    def counts(self) -> dict:
        return {
            "scheduled": self.scheduled,
            "skipped": self.skipped,
            "no_mailbox": self.no_mailbox,
            "deferred": self.deferred,
        }


def queue_messages(
    *,
    now: datetime | None = None,
    limit: int = 200,
    route_for: Callable[[str], str] | None = None,
    rng: random.Random | None = None,
) -> QueueResult:
    """Schedule up to `limit` ready drafts, oldest first. Safe to run from several workers at once."""
    route_for = route_for or route_for_email
    rng = rng or random.SystemRandom()
    window = window_from_settings()
    spacing = parse_spacing(settings.OUTREACH_SPACING)
    result = QueueResult()
    ids = list(
        OutreachMessage.objects.filter(status=Status.DRAFT, metadata__ready=True)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in ids:
        outcome = _queue_one(
            pk, now=now or timezone.now(), route_for=route_for, rng=rng, window=window, spacing=spacing
        )
        if outcome is not None:
            setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def skip_reason(message: OutreachMessage) -> str | None:
    """Why this message must never be sent, or None."""
    company, contact = message.company, message.contact
    if reason := message_exclusion(message):
        return reason
    if is_opted_out(contact.email):
        return "recipient opted out (address or its domain)"
    if OptOut.objects.filter(email="", domain=company.canonical_domain.lower()).exists():
        return "company's domain opted out"
    return None


def _queue_one(
    pk: int,
    *,
    now: datetime,
    route_for: Callable[[str], str],
    rng: random.Random,
    window: SendingWindow,
    spacing: tuple[int, int],
) -> str | None:
    """One message, one transaction. Returns the QueueResult field to count, or None (someone else has it)."""
    message = OutreachMessage.objects.select_related("company", "contact").filter(pk=pk, status=Status.DRAFT).first()
    if message is None:
        return None
    route = None
    if skip_reason(message) is None:
        # The MX lookup is network I/O: done before any lock is taken.
        try:
            route = route_for(message.contact.email)
        except RouteUnavailable:
            return "deferred"
        if route not in ROUTES:
            raise ValueError(f"route_for returned {route!r}, expected one of {ROUTES}")

    with transaction.atomic():
        locked = OutreachMessage.objects.select_for_update(skip_locked=True).filter(pk=pk, status=Status.DRAFT).first()
        if locked is None:
            return None  # another queuer holds it, or has just scheduled or skipped it
        reason = skip_reason(locked)  # again under the lock: an opt-out may have landed meanwhile
        if reason:
            locked.status = Status.SKIPPED
            locked.last_error = reason
            locked.save(update_fields=["status", "last_error", "updated_at"])
            return "skipped"
        if route is None:
            return "deferred"  # excluded a moment ago, not any more: the next run looks it up
        mailbox, fallback = _choose_mailbox(route, now=now, window=window, spacing=spacing)
        if mailbox is None:
            return "no_mailbox"
        # Serializes every queuer scheduling on this mailbox; everything below reads after the lock.
        mailbox = SenderMailbox.objects.select_for_update().filter(pk=mailbox.pk, active=True).first()
        if mailbox is None:
            return "no_mailbox"  # switched off a moment ago; the next run chooses again
        pause = rng.randint(*spacing)
        slot = _slot_for(mailbox, now=now, pause=pause, window=window)
        metadata = {**locked.metadata, "route": route, "mailbox": mailbox.name, "pause_seconds": pause}
        if fallback:
            metadata["route_fallback"] = f"no active {route} mailbox, sent through {mailbox.route}"
        locked.status = Status.SCHEDULED
        locked.mailbox = mailbox
        locked.scheduled_for = slot
        locked.metadata = metadata
        locked.last_error = ""
        locked.save(update_fields=["status", "mailbox", "scheduled_for", "metadata", "last_error", "updated_at"])
    return "scheduled"


def _choose_mailbox(
    route: str, *, now: datetime, window: SendingWindow, spacing: tuple[int, int]
) -> tuple[SenderMailbox | None, bool]:
    """The route's active mailbox with the earliest next slot; the other route's when it has none.

    The earliest slot (at the minimum pause, caps included) spreads messages over
    several mailboxes of one route, so their capacity adds up. Read without locks:
    the caller locks the winner and computes its real slot.
    """
    fallback = False
    candidates = list(SenderMailbox.objects.filter(active=True, route=route).order_by("pk"))
    if not candidates:
        fallback = True
        candidates = list(SenderMailbox.objects.filter(active=True).exclude(route=route).order_by("pk"))
    if not candidates:
        return None, False
    best = min(candidates, key=lambda mb: _slot_for(mb, now=now, pause=spacing[0], window=window))
    return best, fallback


def mailbox_cap(mailbox: SenderMailbox) -> int:
    """The mailbox's own daily cap; 0 means "not set", and OUTREACH_DAILY_CAP applies (switch a mailbox off
    with `active`, not with a zero cap)."""
    return mailbox.daily_cap or settings.OUTREACH_DAILY_CAP


def mailbox_latest(mailbox: SenderMailbox) -> datetime | None:
    """The mailbox's last occupied moment: its latest scheduled send or actual send."""
    agg = OutreachMessage.objects.filter(mailbox=mailbox, status__in=OCCUPYING).aggregate(
        scheduled=Max("scheduled_for"), sent=Max("sent_at")
    )
    return max((value for value in agg.values() if value is not None), default=None)


def mailbox_day_counter(mailbox: SenderMailbox, window: SendingWindow) -> Callable[[date], int]:
    """Messages of this mailbox sent (or to be sent) on a local day of the window's time zone."""

    def count(day: date) -> int:
        start, end = window.day_bounds(day)
        return (
            OutreachMessage.objects.filter(mailbox=mailbox, status__in=OCCUPYING)
            .annotate(at=Coalesce("sent_at", "scheduled_for"))
            .filter(at__gte=start, at__lt=end)
            .count()
        )

    return count


def _slot_for(mailbox: SenderMailbox, *, now: datetime, pause: int, window: SendingWindow) -> datetime:
    return next_slot(
        now=now,
        latest=mailbox_latest(mailbox),
        pause_seconds=pause,
        window=window,
        sent_or_scheduled_that_day=mailbox_day_counter(mailbox, window),
        cap=mailbox_cap(mailbox),
    )
