"""Delivery: claim due messages, send them over SMTP, record what happened. Never the same email twice.

The life of a message here:
1. Claim (one short transaction): due `scheduled` rows are locked with
   `SELECT … FOR UPDATE SKIP LOCKED` (so concurrent workers take different rows), given a
   mailbox within its daily cap, and set to `sending` with a lease (`lease_until`), one more
   attempt and an empty `message_id`. Committed before any SMTP traffic: a failed commit can
   no longer mean a second copy, as it could when the original sent inside the transaction.
2. Per message, the queue's rules on the company and contact again (duplicate or opted-out
   company, contact no longer the primary) -> `skipped`.
3. Stamp: the Message-ID about to be used is written to the row and the lease renewed, guarded
   by `status=sending`, the lease this worker holds and "no opt-out matches the address, its
   domain or the company's domain" -- one statement, so the opt-out check is as late as it can
   be. From here on the row says "this may have gone out". A worker that lost its lease stops
   here and sends nothing.
4. SMTP, through one connection per mailbox per batch (`outreach.delivery`).
5. Outcome, again guarded by the lease: `sent` (+ sent_at, message_id), `failed`, back to
   `scheduled` (transient errors, with backoff; a mailbox that cannot log in), or
   `needs_review` (the connection broke after the data went out: it may have been delivered).

A worker that dies after the claim leaves `sending` rows; `expire_leases` settles them once
their lease has passed: a row with a stamped Message-ID may have been handed to SMTP and goes
to `needs_review` (shown in admin, never sent again automatically); a row without one was
provably never handed to SMTP (the stamp is committed before SMTP starts) and goes back to
`scheduled`.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from ..delivery import (
    Envelope,
    MailboxSession,
    SmtpAuthError,
    SmtpError,
    SmtpSpamRejection,
    SmtpTransient,
    SmtpUncertain,
    new_message_id,
)
from ..models import OptOut, OutreachMessage, SenderMailbox
from ..optouts import message_exclusion, split_address
from ..unsubscribe import make_unsubscribe_url
from ..window import window_from_settings
from .claim import MAILBOX_RETRY, Owned, claim_due, mailbox_room, next_day_opening

logger = logging.getLogger(__name__)
Status = OutreachMessage.Status

MAX_ATTEMPTS = 5  # transient failures (4xx, no connection) before a message is failed
RETRY_BASE = timedelta(minutes=5)  # backoff after a transient failure: 5, 10, 20, 40 min
REVIEW_NOTE = (
    "the worker sending it stopped before it recorded the outcome (lease expired): it may or may not "
    "have been delivered under the Message-ID above. Check the mailbox's Sent folder or the server log, "
    "then use 'send now' only if it did not go out."
)


@dataclass
class DeliveryResult:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    rescheduled: int = 0
    needs_review: int = 0  # the connection broke after the data went out
    lost: int = 0  # claimed, but the lease was gone before sending: another process decided the row
    deferred: int = 0  # due but not claimed: the mailbox's daily cap was reached, or no active mailbox

    @property
    def claimed(self) -> int:
        return sum(asdict(self).values()) - self.deferred

    @property
    def touched(self) -> int:
        """Rows this run did anything with; 0 means nothing was due."""
        return sum(asdict(self).values())

    def counts(self) -> dict:
        return asdict(self)


class _LeaseLost(Exception):
    pass


class _OptedOut(Exception):
    pass


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """Real time, or `now` moving on with real time (tests pin the start, leases still advance)."""
    if now is None:
        return timezone.now
    started = time.monotonic()
    return lambda: now + timedelta(seconds=time.monotonic() - started)


def deliver_due(*, now: datetime | None = None, batch_size: int = 20, lease_seconds: int = 300) -> DeliveryResult:
    """Send up to `batch_size` due messages. Safe to run in any number of workers at once."""
    result = DeliveryResult()
    if not settings.EMAIL_SENDING_ENABLED:
        return result  # messages stay scheduled until an operator turns sending on
    clock = _clock(now)
    if lease_seconds <= 0 or batch_size <= 0:
        raise ValueError("batch_size and lease_seconds must be positive")
    claimed, result.deferred = claim_due(now=clock(), batch_size=batch_size, lease_seconds=lease_seconds)
    sessions: dict[int, MailboxSession] = {}
    try:
        for owned in claimed:
            _deliver_one(owned, clock=clock, lease_seconds=lease_seconds, sessions=sessions, result=result)
    finally:
        for session in sessions.values():
            session.close()
    if result.touched:
        logger.info("delivery: %s", result.counts())
    return result


# --- 2-5. one message ---------------------------------------------------------------------------


def _deliver_one(owned: Owned, *, clock, lease_seconds: int, sessions: dict, result: DeliveryResult) -> None:
    message = owned.message
    # The rules that need no query, on rows loaded at claim time; opt-outs are checked with the stamp.
    reason = message_exclusion(message)
    if reason:
        _tally(result, "skipped", owned.update(status=Status.SKIPPED, lease_until=None, last_error=reason))
        return
    primary = message.mailbox
    metadata = {**message.metadata, "route": primary.route}
    try:
        try:
            sent_by, message_id = primary, _send(owned, primary, clock, lease_seconds, sessions)
        except SmtpSpamRejection as spam:
            metadata["spam_rejection"] = f"{primary.name}: {spam}"
            fallback, full = _fallback(primary, now=clock())
            if fallback is None:
                if full:
                    # Tried once more tomorrow (primary first again): the other route has no room today.
                    _reschedule(owned, fallback_full=True, clock=clock, metadata=metadata, result=result, error=spam)
                else:
                    note = f"rejected as spam through {primary.name} ({spam}); no active mailbox on the other route"
                    _tally(result, "failed", _fail(owned, note, metadata))
                return
            metadata["fallback_route"] = fallback.route
            sent_by, message_id = fallback, _send(owned, fallback, clock, lease_seconds, sessions)
    except _OptedOut:
        note = "recipient opted out (address or its domain)"
        _tally(result, "skipped", owned.update(status=Status.SKIPPED, lease_until=None, last_error=note))
        return
    except _LeaseLost:
        result.lost += 1
        return
    except SmtpError as error:
        _settle_error(owned, error, clock=clock, metadata=metadata, result=result)
        return
    done = owned.mark_sent(
        message_id=message_id,
        mailbox_id=sent_by.pk,
        sent_at=clock(),
        metadata=metadata if metadata != message.metadata else None,
    )
    if not done:
        # Accepted by the server, but the row was taken from us (its lease expired mid-send): it stays in
        # needs_review with the stamped Message-ID, which is the truth for an operator to confirm.
        logger.error("message %s was sent as %s after its lease was lost", message.pk, message_id)
    result.sent += 1


def _send(owned: Owned, mailbox: SenderMailbox, clock, lease_seconds: int, sessions: dict) -> str:
    session = sessions.get(mailbox.pk)
    if session is None:
        session = sessions[mailbox.pk] = MailboxSession(mailbox)
    if session.broken is not None:
        raise _NotTried(session.broken, mailbox)
    message = owned.message
    message_id = new_message_id(mailbox.from_address)
    lease = clock() + timedelta(seconds=lease_seconds)
    email, domain = split_address(message.contact.email)
    domains = (domain, message.company.canonical_domain.strip().lower())
    # The stamp and the opt-out check are one statement: the message goes to SMTP only if, at that
    # instant, the row is still ours and no opt-out matches. Its commit precedes any SMTP traffic.
    if not owned.stamp(message_id=message_id, lease=lease, email=email, domains=domains):
        opted_out = OptOut.objects.filter(Q(email=email) | Q(email="", domain__in=domains)).exists()
        raise _OptedOut if opted_out else _LeaseLost
    try:
        session.send(_envelope(message, mailbox, message_id))
    except SmtpError as error:
        error.mailbox = mailbox
        raise
    return message_id


def _envelope(message: OutreachMessage, mailbox: SenderMailbox, message_id: str) -> Envelope:
    return Envelope(
        to=message.contact.email,
        subject=message.subject,
        body=message.body,
        from_address=mailbox.from_address,
        message_id=message_id,
        unsubscribe_url=make_unsubscribe_url(message),
    )


class _NotTried(SmtpError):
    """The mailbox's connection already failed in this batch: this message was not even tried."""

    def __init__(self, cause: SmtpError, mailbox: SenderMailbox):
        super().__init__(cause.code, cause.text)
        self.cause = cause
        self.mailbox = mailbox


def _fallback(primary: SenderMailbox, *, now: datetime) -> tuple[SenderMailbox | None, bool]:
    """An active mailbox of the other route with room today, and whether some exist but are full.

    Not locked: a fallback is rare, so its cap may be exceeded by a message or two under concurrency.
    """
    window = window_from_settings()
    others = list(SenderMailbox.objects.filter(active=True).exclude(route=primary.route).order_by("pk"))
    for mailbox in others:
        if mailbox_room(mailbox, now=now, window=window) > 0:
            return mailbox, False
    return None, bool(others)


def _settle_error(owned: Owned, error: SmtpError, *, clock, metadata: dict, result: DeliveryResult) -> None:
    mailbox = getattr(error, "mailbox", None) or owned.message.mailbox  # the fallback's, when it was that one
    if isinstance(error, _NotTried | SmtpAuthError):
        cause = error.cause if isinstance(error, _NotTried) else error
        if isinstance(cause, SmtpAuthError):
            note = f"mailbox {mailbox.name} cannot log in or is misconfigured ({cause}); fix it, the message waits"
            delay = MAILBOX_RETRY
        else:
            note = f"not tried: mailbox {mailbox.name} was unreachable in this run ({cause})"
            delay = RETRY_BASE
        # Not the message's fault: the attempt is given back, so a broken mailbox never burns messages.
        done = owned.update(
            status=Status.SCHEDULED,
            scheduled_for=clock() + delay,
            attempts=F("attempts") - 1,
            lease_until=None,
            message_id="",
            last_error=note,
            metadata=metadata,
        )
        _tally(result, "rescheduled", done)
    elif isinstance(error, SmtpUncertain):
        note = f"{error}: it may have been delivered; check before sending it again"
        _tally(result, "needs_review", owned.update(status=Status.NEEDS_REVIEW, lease_until=None, last_error=note))
    elif isinstance(error, SmtpTransient):
        _reschedule(owned, clock=clock, metadata=metadata, result=result, error=error)
    else:  # SmtpPermanent, including a spam rejection through the fallback
        _tally(result, "failed", _fail(owned, f"rejected: {error}", metadata))


def _reschedule(owned: Owned, *, clock, metadata: dict, result: DeliveryResult, error: SmtpError, fallback_full=False):
    attempts = owned.message.attempts  # already counts this attempt (the claim added it)
    if attempts >= MAX_ATTEMPTS:
        _tally(result, "failed", _fail(owned, f"gave up after {attempts} attempts; last: {error}", metadata))
        return
    if fallback_full:
        when = next_day_opening(clock(), window_from_settings())
        note = f"rejected as spam ({error}); the other route's mailboxes are full today, tried again tomorrow"
    else:
        when = clock() + RETRY_BASE * 2 ** (attempts - 1)
        note = f"attempt {attempts} failed ({error}); next try at {when.isoformat(timespec='seconds')}"
    done = owned.update(
        status=Status.SCHEDULED, scheduled_for=when, lease_until=None, message_id="", last_error=note, metadata=metadata
    )
    _tally(result, "rescheduled", done)


def _fail(owned: Owned, note: str, metadata: dict) -> bool:
    return owned.update(status=Status.FAILED, lease_until=None, last_error=note, metadata=metadata)


def _tally(result: DeliveryResult, field: str, done: bool) -> None:
    if done:
        setattr(result, field, getattr(result, field) + 1)
    else:
        result.lost += 1


# --- leases and the admin's "send now" ----------------------------------------------------------


def expire_leases(*, now: datetime | None = None) -> int:
    """Settle `sending` rows whose lease has passed (their worker died or hung); returns how many.

    Stamped with a Message-ID -> `needs_review` (it may have been handed to SMTP; never sent
    again automatically). Not stamped -> back to `scheduled`: SMTP was never started for it.
    """
    now = now or timezone.now()
    expired = OutreachMessage.objects.filter(status=Status.SENDING, lease_until__lt=now)
    review = expired.exclude(message_id="").update(
        status=Status.NEEDS_REVIEW, lease_until=None, last_error=REVIEW_NOTE, updated_at=now
    )
    released = expired.filter(message_id="").update(
        status=Status.SCHEDULED,
        lease_until=None,
        attempts=F("attempts") - 1,
        last_error="its worker stopped before sending it; back in the queue",
        updated_at=now,
    )
    if review or released:
        logger.warning("expired leases: %s to needs_review, %s back to scheduled", review, released)
    return review + released


SEND_NOW_FROM = (Status.DRAFT, Status.SCHEDULED, Status.NEEDS_REVIEW)


@transaction.atomic
def send_now(message: OutreachMessage, *, now: datetime | None = None) -> OutreachMessage:
    """Make a message due now (the next delivery run sends it). For the admin's "send now".

    Allowed from draft, scheduled and needs_review. From needs_review it is the operator's
    statement that they checked the email did not go out; the earlier Message-ID and note are
    kept in metadata["reviewed"]. Sent, sending, failed and skipped messages are refused.
    The opt-out rules and the mailbox cap still apply when it is delivered.
    """
    now = now or timezone.now()
    row = OutreachMessage.objects.select_for_update().get(pk=message.pk)
    if row.status not in SEND_NOW_FROM:
        raise ValueError(
            f"message {row.pk} is {row.status}: only draft, scheduled or needs-review messages can be sent"
        )
    if not (row.subject.strip() and row.body.strip()):
        raise ValueError(f"message {row.pk} has no subject or body yet")
    if row.status == Status.NEEDS_REVIEW:
        row.metadata = {
            **row.metadata,
            "reviewed": {"at": now.isoformat(), "message_id": row.message_id, "note": row.last_error},
        }
    row.status = Status.SCHEDULED
    row.scheduled_for = now
    row.lease_until = None
    row.message_id = ""
    row.last_error = ""
    row.save(
        update_fields=["status", "scheduled_for", "lease_until", "message_id", "last_error", "metadata", "updated_at"]
    )
    return row
