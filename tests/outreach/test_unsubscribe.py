"""The unsubscribe link: signed, GET only asks, POST (the form or a mail client's one-click) opts out."""

import pytest
from django.test import Client

from outreach.models import OptOut, OutreachMessage
from outreach.services.deliver import deliver_due
from outreach.unsubscribe import BadToken, make_token, make_unsubscribe_url, read_token
from tests.emulators.smtp import SmtpServer
from tests.outreach.delivery_data import make_mailbox, make_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp():
    with SmtpServer() as server:
        yield server


@pytest.fixture
def message(smtp, settings):
    settings.OUTREACH_PUBLIC_URL = "https://leadops.example.test/"
    [message] = make_messages(1, mailbox=make_mailbox(smtp))
    return message


def path_of(url: str) -> str:
    return url.removeprefix("https://leadops.example.test")


def test_the_link_carries_the_address_and_the_message(message):
    url = make_unsubscribe_url(message)

    assert url.startswith("https://leadops.example.test/u/") and url.endswith("/")
    wanted = read_token(url.split("/u/")[1].rstrip("/"))
    assert (wanted.email, wanted.message_id) == ("info@m0.example.test", message.pk)


def test_a_tampered_token_is_refused():
    token = make_token(email="info@m0.example.test", message_id=1)
    payload_changed = ("A" if token[0] != "A" else "B") + token[1:]
    for forged in (payload_changed, token + "x", token.rpartition(":")[0]):
        with pytest.raises(BadToken):
            read_token(forged)


def test_get_only_asks_and_does_not_unsubscribe(message, client):
    response = client.get(path_of(make_unsubscribe_url(message)))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<form method="post">' in body and "info@m0.example.test" in body
    assert not OptOut.objects.exists()
    assert response["Referrer-Policy"] == "no-referrer"


def test_post_unsubscribes_and_the_next_message_to_that_address_is_skipped(message, smtp, settings):
    settings.EMAIL_SENDING_ENABLED = True
    client = Client(enforce_csrf_checks=True)  # a mail client's one-click POST carries no CSRF token

    response = client.post(path_of(make_unsubscribe_url(message)), {"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200 and "больше не будет" in response.content.decode()
    optout = OptOut.objects.get()
    assert (optout.email, optout.source) == ("info@m0.example.test", "unsubscribe")
    assert str(message.pk) in optout.reason

    assert deliver_due().skipped == 1
    message.refresh_from_db()
    assert message.status == OutreachMessage.Status.SKIPPED
    assert smtp.messages == []


def test_posting_twice_keeps_one_opt_out(message, client):
    path = path_of(make_unsubscribe_url(message))
    client.post(path)
    client.post(path)
    assert OptOut.objects.count() == 1


def test_a_bad_link_gets_a_400_page_with_one_clear_sentence(client):
    for method in (client.get, client.post):
        response = method("/u/not-a-real-token/")
        assert response.status_code == 400
        assert "повреждена или изменена" in response.content.decode()
        assert "damaged or was altered" in response.content.decode()
    assert not OptOut.objects.exists()
