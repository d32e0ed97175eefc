"""Step 1 of delivery: claim due messages for one worker, inside the mailboxes' daily caps.

One short transaction: the due `scheduled` rows are locked with `SELECT … FOR UPDATE SKIP
LOCKED` (concurrent workers take different rows and never wait for each other), each gets a
mailbox with room left today, and the chosen rows become `sending` with this worker's lease,
one more attempt and an empty `message_id`. The commit happens before any SMTP traffic.

The mailbox rows are locked too (FOR UPDATE, in pk order, so claimers cannot deadlock): the
day's count of sent and in-flight messages is read under that lock, so two claimers never
both take a mailbox's last free slot. A due row that finds no room is moved to the next
window opening; one with no active mailbox on its route waits MAILBOX_RETRY.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..models import OptOut, OutreachMessage, SenderMailbox
from ..routing import OTHER
from ..window import SendingWindow, fit_into_window, window_from_settings
from .queue import mailbox_cap

Status = OutreachMessage.Status
MAILBOX_RETRY = timedelta(minutes=30)  # a mailbox that cannot log in (or is missing) is looked at again after this
_MESSAGES = OutreachMessage._meta.db_table
_OPTOUTS = OptOut._meta.db_table


@dataclass
class Owned:
    """A row this worker holds: every write is guarded by status=sending and this exact lease, so a row
    whose lease was lost (expired, settled by someone else) is never touched."""

    message: OutreachMessage
    lease: datetime

    def update(self, *conditions, **fields) -> bool:
        """Write `fields` if the row is still ours (and matches any extra `conditions`); True when it was."""
        rows = OutreachMessage.objects.filter(pk=self.message.pk, status=Status.SENDING, lease_until=self.lease)
        return rows.filter(*conditions).update(**fields, updated_at=timezone.now()) == 1

    # The two writes every email makes are plain SQL: the ORM spends more CPU building them (~1.5-3 ms,
    # the opt-out subquery most) than the SMTP exchange costs, and they decide the delivery rate.
    # Tests run them on SQLite and PostgreSQL; values go through Django's own adapters.

    def stamp(self, *, message_id: str, lease: datetime, email: str, domains: tuple[str, str]) -> bool:
        """Record the Message-ID about to be sent and renew the lease, unless the row is no longer ours or an
        opt-out matches `email` or one of `domains` (checked in the same statement). True when stamped."""
        sql = (
            f"UPDATE {_MESSAGES} SET message_id = %s, lease_until = %s, updated_at = %s "
            f"WHERE id = %s AND status = %s AND lease_until = %s AND NOT EXISTS "
            f"(SELECT 1 FROM {_OPTOUTS} WHERE email = %s OR (email = '' AND domain IN (%s, %s)))"
        )
        ops = connection.ops
        params = [
            message_id,
            ops.adapt_datetimefield_value(lease),
            ops.adapt_datetimefield_value(timezone.now()),
            self.message.pk,
            Status.SENDING.value,
            ops.adapt_datetimefield_value(self.lease),
            email,
            *domains,
        ]
        if not self._execute(sql, params):
            return False
        self.lease = lease
        return True

    def mark_sent(self, *, message_id: str, mailbox_id: int, sent_at: datetime, metadata: dict | None) -> bool:
        """`sent` with its Message-ID and mailbox, the lease released; metadata rewritten only when given."""
        ops = connection.ops
        extra, extra_params = "", []
        if metadata is not None:
            extra = ", metadata = %s"
            extra_params = [OutreachMessage._meta.get_field("metadata").get_db_prep_value(metadata, connection)]
        sql = (
            f"UPDATE {_MESSAGES} SET status = %s, sent_at = %s, message_id = %s, mailbox_id = %s, "
            f"lease_until = NULL, last_error = '', updated_at = %s{extra} "
            f"WHERE id = %s AND status = %s AND lease_until = %s"
        )
        params = [
            Status.SENT.value,
            ops.adapt_datetimefield_value(sent_at),
            message_id,
            mailbox_id,
            ops.adapt_datetimefield_value(timezone.now()),
            *extra_params,
            self.message.pk,
            Status.SENDING.value,
            ops.adapt_datetimefield_value(self.lease),
        ]
        return self._execute(sql, params)

    @staticmethod
    def _execute(sql: str, params: list) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount == 1


def mailbox_room(mailbox: SenderMailbox, *, now: datetime, window: SendingWindow) -> int:
    """Sends left on `now`'s local day (OUTREACH_TIMEZONE): the cap less what was sent and what is in flight."""
    start, end = window.day_bounds(window.local_date(now))
    used = (
        OutreachMessage.objects.filter(mailbox=mailbox)
        .filter(Q(status=Status.SENT, sent_at__gte=start, sent_at__lt=end) | Q(status=Status.SENDING))
        .count()
    )
    return mailbox_cap(mailbox) - used


def next_day_opening(now: datetime, window: SendingWindow) -> datetime:
    """The window's opening on the next sending day after `now`'s local day."""
    return fit_into_window(window.day_bounds(window.local_date(now))[1], window)


def claim_due(*, now: datetime, batch_size: int, lease_seconds: int) -> tuple[list[Owned], int]:
    """Claim up to `batch_size` due messages: the claimed rows (committed as `sending`), oldest first,
    and how many due rows were deferred instead (mailbox full today, or none active)."""
    lease = now + timedelta(seconds=lease_seconds)
    window = window_from_settings()
    with transaction.atomic():
        rows = list(
            OutreachMessage.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, scheduled_for__lte=now)
            .order_by("scheduled_for", "pk")
            .values_list("pk", "mailbox_id")[:batch_size]
        )
        if not rows:
            return [], 0
        chosen, over_cap, no_mailbox, by_pk = _assign(rows, now=now, window=window)
        for mb, pks in chosen.items():
            OutreachMessage.objects.filter(pk__in=pks).update(
                status=Status.SENDING,
                mailbox_id=mb,
                lease_until=lease,
                attempts=F("attempts") + 1,
                message_id="",
                updated_at=now,
            )
        # Over the cap: the next day's opening, so they do not block today's queue at its head.
        tomorrow = next_day_opening(now, window)
        for mb, pks in over_cap.items():
            mailbox = by_pk[mb]
            OutreachMessage.objects.filter(pk__in=pks).update(
                scheduled_for=tomorrow,
                last_error=f"mailbox {mailbox.name} reached its daily cap ({mailbox_cap(mailbox)}); moved to next day",
                updated_at=now,
            )
        for route, pks in no_mailbox.items():
            OutreachMessage.objects.filter(pk__in=pks).update(
                scheduled_for=now + MAILBOX_RETRY,
                last_error=f"no active mailbox on route {route!r}: activate one in admin",
                updated_at=now,
            )
    order = {pk: n for n, (pk, _) in enumerate(rows)}
    messages = OutreachMessage.objects.select_related("company", "contact", "mailbox").filter(
        pk__in=[pk for pks in chosen.values() for pk in pks], status=Status.SENDING, lease_until=lease
    )
    deferred = sum(map(len, over_cap.values())) + sum(map(len, no_mailbox.values()))
    return [Owned(m, lease) for m in sorted(messages, key=lambda m: order[m.pk])], deferred


def _assign(rows: list[tuple[int, int | None]], *, now: datetime, window: SendingWindow):
    """Inside the claim's transaction: the mailbox each row goes out through, within today's room.

    A row keeps the mailbox the queue gave it while that one is active; a row without one (or
    whose mailbox was switched off) takes an active mailbox of the same route ("other" when it
    had none), the one with room left first.
    """
    assigned = SenderMailbox.objects.in_bulk({mb for _, mb in rows if mb})
    routes = {OTHER if mb is None else assigned[mb].route for _, mb in rows if mb is None or not assigned[mb].active}
    wanted = set(assigned) | set(
        SenderMailbox.objects.filter(active=True, route__in=routes).values_list("pk", flat=True)
    )
    locked = list(SenderMailbox.objects.select_for_update().filter(pk__in=wanted).order_by("pk"))
    by_pk = {mb.pk: mb for mb in locked}
    room = {mb.pk: mailbox_room(mb, now=now, window=window) for mb in locked if mb.active}

    chosen: dict[int, list[int]] = {}
    over_cap: dict[int, list[int]] = {}
    no_mailbox: dict[str, list[int]] = {}
    for pk, mb in rows:
        if mb is not None and by_pk[mb].active:
            target = mb
        else:
            route = OTHER if mb is None else by_pk[mb].route
            usable = [m.pk for m in locked if m.active and m.route == route]
            target = next((m for m in usable if room[m] > 0), usable[0] if usable else None)
            if target is None:
                no_mailbox.setdefault(route, []).append(pk)
                continue
        if room[target] > 0:
            room[target] -= 1
            chosen.setdefault(target, []).append(pk)
        else:
            over_cap.setdefault(target, []).append(pk)
    return chosen, over_cap, no_mailbox, by_pk
