"""Delivery through a real SMTP server (aiosmtpd on loopback): headers, opt-outs, routes, errors, leases."""

from datetime import timedelta
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from outreach.models import OutreachMessage
from outreach.optouts import record_opt_out
from outreach.services.claim import claim_due
from outreach.services.deliver import MAX_ATTEMPTS, deliver_due, expire_leases, send_now
from outreach.unsubscribe import read_token
from tests.conftest import free_port
from tests.emulators.smtp import SmtpServer
from tests.outreach.delivery_data import make_mailbox, make_messages

# The loopback server asks for AUTH without TLS on purpose; aiosmtpd warns about that.
pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")]
Status = OutreachMessage.Status


@pytest.fixture
def sending(settings):
    settings.EMAIL_SENDING_ENABLED = True
    settings.OUTREACH_PUBLIC_URL = "https://leadops.example.test"
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def other_smtp():
    with SmtpServer() as server:
        yield server


def test_it_sends_with_message_id_and_one_click_unsubscribe_headers(sending, smtp):
    mailbox = make_mailbox(smtp)
    [message] = make_messages(1, mailbox=mailbox)

    result = deliver_due()

    assert (result.sent, result.claimed) == (1, 1)
    message.refresh_from_db()
    assert message.status == Status.SENT and message.sent_at and message.lease_until is None
    assert message.attempts == 1 and message.metadata["route"] == "other"
    [received] = smtp.received_by("info@m0.example.test")
    mail = received.parsed
    assert mail["Message-ID"] == message.message_id and message.message_id.endswith("@other-1.example.test>")
    assert mail["Subject"] == message.subject and mail["From"] == mailbox.from_address
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    mailto, https = (part.strip().strip("<>") for part in mail["List-Unsubscribe"].split(","))
    assert mailto == "mailto:sales@other-1.example.test?subject=unsubscribe"
    url = urlsplit(https)
    assert (url.scheme, url.netloc) == ("https", "leadops.example.test")
    token = url.path.removeprefix("/u/").rstrip("/")
    wanted = read_token(token)
    assert (wanted.email, wanted.message_id) == ("info@m0.example.test", message.pk)


def test_it_uses_one_connection_for_a_batch(sending, smtp):
    make_messages(5, mailbox=make_mailbox(smtp))

    assert deliver_due(batch_size=5).sent == 5

    assert len({m.peer for m in smtp.messages}) == 1


def test_it_skips_an_address_that_opted_out_after_queueing(sending, smtp):
    mailbox = make_mailbox(smtp)
    opted, kept = make_messages(2, mailbox=mailbox)
    record_opt_out(email="INFO@m0.example.test", source="unsubscribe")

    result = deliver_due()

    assert (result.sent, result.skipped) == (1, 1)
    opted.refresh_from_db()
    assert opted.status == Status.SKIPPED and "opted out" in opted.last_error
    assert smtp.count_by_recipient() == {"info@m1.example.test": 1}


def test_it_skips_a_company_marked_duplicate_after_queueing(sending, smtp):
    [message] = make_messages(1, mailbox=make_mailbox(smtp))
    message.company.status = "duplicate"
    message.company.save()

    assert deliver_due().skipped == 1
    assert smtp.messages == []


def test_a_spam_rejection_is_retried_once_through_the_other_route(sending, smtp, other_smtp):
    ru = make_mailbox(smtp, name="ru-1", route="ru")
    other = make_mailbox(other_smtp, name="other-1", route="other")
    [message] = make_messages(1, mailbox=ru)
    smtp.spam.add("info@m0.example.test")

    result = deliver_due()

    assert result.sent == 1
    message.refresh_from_db()
    assert message.status == Status.SENT and message.mailbox == other
    assert message.metadata["route"] == "ru" and message.metadata["fallback_route"] == "other"
    assert "5.7.1" in message.metadata["spam_rejection"]
    assert message.message_id.endswith("@other-1.example.test>")
    assert smtp.messages == []
    assert other_smtp.count_by_recipient() == {"info@m0.example.test": 1}


def test_a_second_spam_rejection_fails_the_message(sending, smtp, other_smtp):
    ru = make_mailbox(smtp, name="ru-1", route="ru")
    make_mailbox(other_smtp, name="other-1", route="other")
    [message] = make_messages(1, mailbox=ru)
    smtp.spam.add("info@m0.example.test")
    other_smtp.spam.add("info@m0.example.test")

    assert deliver_due().failed == 1

    message.refresh_from_db()
    assert message.status == Status.FAILED and "5.7.1" in message.last_error
    assert smtp.messages == [] and other_smtp.messages == []


def test_a_spam_rejection_without_another_route_fails(sending, smtp):
    [message] = make_messages(1, mailbox=make_mailbox(smtp, name="ru-1", route="ru"))
    smtp.spam.add("info@m0.example.test")

    assert deliver_due().failed == 1
    message.refresh_from_db()
    assert "no active mailbox on the other route" in message.last_error


def test_an_auth_error_never_falls_back_and_leaves_the_messages_scheduled(sending, other_smtp):
    with SmtpServer(username="sales", password="right-password") as locked:
        ru = make_mailbox(locked, name="ru-1", route="ru", username="sales", password="wrong-password")
        make_mailbox(other_smtp, name="other-1", route="other")
        messages = make_messages(3, mailbox=ru)
        before = timezone.now()

        result = deliver_due()

        assert (result.rescheduled, result.sent, result.failed) == (3, 0, 0)
        assert len(set(locked.auth_failures)) == 1  # one connection tried to log in: once a batch, not a message
        assert locked.messages == [] and other_smtp.messages == []
    for message in messages:
        message.refresh_from_db()
        assert message.status == Status.SCHEDULED and message.attempts == 0  # not burned
        assert message.scheduled_for > before + timedelta(minutes=20)
        assert "ru-1" in message.last_error and "535" in message.last_error
        assert "fallback_route" not in message.metadata


def test_a_server_that_requires_auth_from_a_mailbox_without_credentials_is_an_auth_error(sending):
    with SmtpServer(username="sales", password="right-password") as locked:
        [message] = make_messages(1, mailbox=make_mailbox(locked))
        assert deliver_due().rescheduled == 1
    message.refresh_from_db()
    assert message.status == Status.SCHEDULED and "530" in message.last_error


def test_the_right_password_logs_in_and_sends(sending):
    with SmtpServer(username="sales", password="right-password") as locked:
        make_messages(1, mailbox=make_mailbox(locked, username="sales", password="right-password"))
        assert deliver_due().sent == 1
        assert len(locked.messages) == 1


def test_a_temporary_failure_is_retried_later_and_fails_after_the_last_attempt(sending, smtp):
    first, last = make_messages(2, mailbox=make_mailbox(smtp))
    OutreachMessage.objects.filter(pk=last.pk).update(attempts=MAX_ATTEMPTS - 1)
    smtp.tempfail.update({"info@m0.example.test", "info@m1.example.test"})
    before = timezone.now()

    result = deliver_due()

    assert (result.rescheduled, result.failed) == (1, 1)
    first.refresh_from_db()
    assert first.status == Status.SCHEDULED and first.attempts == 1 and first.message_id == ""
    assert first.scheduled_for >= before + timedelta(minutes=5) and "421" in first.last_error
    last.refresh_from_db()
    assert last.status == Status.FAILED and f"after {MAX_ATTEMPTS} attempts" in last.last_error
    assert smtp.messages == []


def test_an_unreachable_mailbox_costs_one_attempt_not_one_per_message(sending):
    class Closed:  # nothing listens there
        host, port = "127.0.0.1", free_port()

    messages = make_messages(3, mailbox=make_mailbox(Closed))

    assert deliver_due().rescheduled == 3

    attempts = sorted(
        OutreachMessage.objects.filter(pk__in=[m.pk for m in messages]).values_list("attempts", flat=True)
    )
    assert attempts == [0, 0, 1]


def test_a_permanent_rejection_fails_the_message(sending, smtp):
    [message] = make_messages(1, mailbox=make_mailbox(smtp))
    smtp.reject.add("info@m0.example.test")

    assert deliver_due().failed == 1
    message.refresh_from_db()
    assert message.status == Status.FAILED and "5.1.1" in message.last_error


def test_a_connection_lost_after_the_data_goes_to_review_and_is_never_resent(sending, smtp):
    [message] = make_messages(1, mailbox=make_mailbox(smtp))
    smtp.drop_in_data.add("info@m0.example.test")

    assert deliver_due().needs_review == 1
    message.refresh_from_db()
    assert message.status == Status.NEEDS_REVIEW and "may have been delivered" in message.last_error
    assert message.message_id  # the Message-ID it went out under, for the operator to look up

    assert deliver_due().touched == 0
    assert smtp.count_by_recipient() == {"info@m0.example.test": 1}


def test_it_claims_nothing_while_sending_is_disabled(settings, smtp):
    settings.EMAIL_SENDING_ENABLED = False
    [message] = make_messages(1, mailbox=make_mailbox(smtp))

    assert deliver_due().touched == 0

    message.refresh_from_db()
    assert message.status == Status.SCHEDULED and message.attempts == 0
    assert smtp.messages == []


def test_it_leaves_messages_that_are_not_due_yet(sending, smtp):
    make_messages(1, mailbox=make_mailbox(smtp), scheduled_for=timezone.now() + timedelta(hours=1))
    assert deliver_due().touched == 0


def test_an_expired_lease_goes_to_review_and_is_never_sent_again(sending, smtp):
    """A worker claimed two rows and died while handing the first to SMTP."""
    mailbox = make_mailbox(smtp)
    in_flight, untouched = make_messages(2, mailbox=mailbox)
    now = timezone.now()
    owned, _ = claim_due(now=now, batch_size=2, lease_seconds=60)
    assert [o.message.pk for o in owned] == [in_flight.pk, untouched.pk]
    assert owned[0].update(message_id="<stamped@other-1.example.test>")  # what the worker does before SMTP

    assert expire_leases(now=now + timedelta(seconds=30)) == 0  # not expired yet
    assert expire_leases(now=now + timedelta(seconds=61)) == 2

    in_flight.refresh_from_db()
    untouched.refresh_from_db()
    assert in_flight.status == Status.NEEDS_REVIEW and "may or may not" in in_flight.last_error
    assert untouched.status == Status.SCHEDULED and untouched.attempts == 0  # SMTP never started for it
    # The dead worker's lease is gone: were it alive after all, it could not write to the rows.
    assert not owned[0].update(status=Status.SENT)

    assert deliver_due().sent == 1
    assert deliver_due().touched == 0
    assert smtp.count_by_recipient() == {"info@m1.example.test": 1}
    in_flight.refresh_from_db()
    assert in_flight.status == Status.NEEDS_REVIEW


def test_a_message_without_a_mailbox_goes_through_an_other_route_mailbox(sending, smtp):
    make_mailbox(smtp, name="ru-1", route="ru")
    other = make_mailbox(smtp, name="other-1", route="other")
    [message] = make_messages(1, mailbox=None)

    assert deliver_due().sent == 1
    message.refresh_from_db()
    assert message.mailbox == other


def test_a_full_mailbox_moves_the_rest_to_the_next_window(sending, smtp, settings):
    settings.OUTREACH_TIMEZONE = "Europe/Moscow"
    settings.OUTREACH_WINDOW = "09:10-19:45"
    mailbox = make_mailbox(smtp, daily_cap=2)
    messages = make_messages(3, mailbox=mailbox)

    result = deliver_due()

    assert (result.sent, result.deferred) == (2, 1)
    late = OutreachMessage.objects.get(pk=messages[2].pk)
    assert late.status == Status.SCHEDULED and "daily cap" in late.last_error
    moscow = ZoneInfo("Europe/Moscow")
    local = late.scheduled_for.astimezone(moscow)
    assert (local.hour, local.minute) == (9, 10) and local.date() > timezone.now().astimezone(moscow).date()


def test_send_now_releases_a_reviewed_message_and_refuses_a_sent_one(sending, smtp):
    reviewed, sent = make_messages(2, mailbox=make_mailbox(smtp))
    OutreachMessage.objects.filter(pk=reviewed.pk).update(
        status=Status.NEEDS_REVIEW, message_id="<old@x.example.test>", last_error="lease expired"
    )
    OutreachMessage.objects.filter(pk=sent.pk).update(status=Status.SENT)

    released = send_now(reviewed)

    assert released.status == Status.SCHEDULED and released.message_id == ""
    assert released.metadata["reviewed"]["message_id"] == "<old@x.example.test>"
    with pytest.raises(ValueError, match="is sent"):
        send_now(sent)
    assert deliver_due().sent == 1
