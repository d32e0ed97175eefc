"""Signed unsubscribe links: the token carries the address and the message, the signature protects it.

The token never expires: a recipient may click an old email's link years later, and
an unsubscribe must still work. Tampering with either part breaks the signature.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "outreach.unsubscribe"


class BadToken(Exception):
    """The link was altered, truncated or signed with another key."""


@dataclass(frozen=True)
class UnsubscribeRequest:
    email: str
    message_id: int | None


def make_token(*, email: str, message_id: int | None) -> str:
    return signing.dumps({"e": email.strip().lower(), "m": message_id}, salt=SALT)


def read_token(token: str) -> UnsubscribeRequest:
    try:
        data = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise BadToken(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("e"), str) or "@" not in data["e"]:
        raise BadToken("the token does not carry an address")
    message_id = data.get("m")
    return UnsubscribeRequest(email=data["e"], message_id=message_id if isinstance(message_id, int) else None)


def unsubscribe_url(token: str) -> str:
    return settings.OUTREACH_PUBLIC_URL.rstrip("/") + reverse("outreach:unsubscribe", args=[token])


def make_unsubscribe_url(message) -> str:
    """The https link put in the message's List-Unsubscribe header (OUTREACH_PUBLIC_URL + /u/TOKEN/)."""
    return unsubscribe_url(make_token(email=message.contact.email, message_id=message.pk))
