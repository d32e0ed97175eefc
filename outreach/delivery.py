"""The SMTP port: build one outreach email and hand it to a mailbox's server, with errors of our own.

One `MailboxSession` per mailbox and batch: the connection is opened on the first
send and reused for the rest of the batch (Django's SMTP backend, opened
explicitly, so `send_messages` does not open and close it around every message).

What an error means for the message is decided here, once:
- `SmtpAuthError`: the mailbox cannot log in or is misconfigured (535, 530 "authentication
  required", no STARTTLS/AUTH, a bad certificate). The message is fine: it waits for the
  mailbox to be fixed and never falls back to another route.
- `SmtpSpamRejection`: a 5.7.x (or "spam") rejection. Tried once more through the other route.
- `SmtpPermanent`: any other 5xx. The message fails.
- `SmtpTransient`: a 4xx, or the connection could not be made or broke before the message
  data was sent. Nothing was delivered, so it may be tried again later.
- `SmtpUncertain`: the connection broke (or timed out) after the message data started to go
  out and before the server answered. It may have been delivered: never retried automatically.
"""

import re
import smtplib
import ssl
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection, make_msgid
from django.core.mail.backends.smtp import EmailBackend as DjangoSmtpBackend

from .models import SenderMailbox

BACKEND = "outreach.delivery.EmailBackend"
ONE_CLICK = "List-Unsubscribe=One-Click"
AUTH_CODES = {530, 534, 535, 538}
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


class SmtpError(Exception):
    def __init__(self, code: int | None, text: str):
        super().__init__(f"{code} {text}" if code else text)
        self.code = code
        self.text = text


class SmtpAuthError(SmtpError):
    """The mailbox's problem (login, TLS, configuration), not the message's."""


class SmtpPermanent(SmtpError):
    """5xx: this message will not be accepted through this mailbox."""


class SmtpSpamRejection(SmtpPermanent):
    """5.7.x: rejected by policy (spam, reputation); the other route may be accepted."""


class SmtpTransient(SmtpError):
    """4xx or no connection: not delivered; may be tried again later."""


class SmtpUncertain(SmtpError):
    """The connection broke while the server had the message: it may have been delivered."""


class _DataTracking:
    """Remembers whether DATA began since the last MAIL FROM: the line between 'not sent' and 'maybe sent'."""

    data_started = False

    def mail(self, *args, **kwargs):
        self.data_started = False
        return super().mail(*args, **kwargs)

    def data(self, msg):
        self.data_started = True
        return super().data(msg)


class _SMTP(_DataTracking, smtplib.SMTP):
    pass


class _SMTPSSL(_DataTracking, smtplib.SMTP_SSL):
    pass


class EmailBackend(DjangoSmtpBackend):
    """Django's SMTP backend, with connections that tell whether the message data had started."""

    @property
    def connection_class(self):
        return _SMTPSSL if self.use_ssl else _SMTP


@dataclass(frozen=True)
class Envelope:
    """Everything one email needs; built by the delivery service from a message and a mailbox."""

    to: str
    subject: str
    body: str
    from_address: str
    message_id: str
    unsubscribe_url: str

    @property
    def unsubscribe_mailto(self) -> str:
        return f"mailto:{self.from_address}?subject=unsubscribe"


def new_message_id(from_address: str) -> str:
    """A fresh Message-ID on the sending address's domain (what receiving servers expect)."""
    return make_msgid(domain=from_address.rpartition("@")[2] or "localhost")


def build_email(envelope: Envelope, *, connection=None) -> EmailMessage:
    headers = {
        "Message-ID": envelope.message_id,
        "List-Unsubscribe": f"<{envelope.unsubscribe_mailto}>, <{envelope.unsubscribe_url}>",
        # RFC 8058: mail clients POST this body to the https URL to unsubscribe in one click.
        "List-Unsubscribe-Post": ONE_CLICK,
    }
    return EmailMessage(
        subject=envelope.subject,
        body=envelope.body,
        from_email=envelope.from_address,
        to=[envelope.to],
        headers=headers,
        connection=connection,
    )


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _is_auth_problem(code: int, text: str) -> bool:
    if code in AUTH_CODES:
        return True
    enhanced = _ENHANCED.search(text)
    return bool(enhanced and enhanced.group(0) in {"5.7.0", "5.7.8", "5.7.9", "5.7.11"} and "auth" in text.lower())


def classify_reply(code: int, text: str) -> SmtpError:
    """An SMTP reply code (and text) as one of our errors."""
    if _is_auth_problem(code, text):
        return SmtpAuthError(code, text)
    if 400 <= code < 500:
        return SmtpTransient(code, text)
    if 500 <= code < 600:
        enhanced = _ENHANCED.search(text)
        if (enhanced and enhanced.group(1) == "5" and enhanced.group(2) == "7") or "spam" in text.lower():
            return SmtpSpamRejection(code, text)
        return SmtpPermanent(code, text)
    return SmtpTransient(code, text)  # -1 and other oddities: the server said nothing usable


def classify(exc: OSError, *, opening: bool, data_started: bool) -> SmtpError:
    """An exception from smtplib/socket/ssl as one of our errors."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):  # one recipient per message: its reply is the answer
        code, text = next(iter(exc.recipients.values()), (-1, "recipient refused"))
        return classify_reply(code, _text(text))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SmtpAuthError(exc.smtp_code, _text(exc.smtp_error))
    if isinstance(exc, smtplib.SMTPResponseException):
        return classify_reply(exc.smtp_code, _text(exc.smtp_error))
    if opening and isinstance(exc, smtplib.SMTPNotSupportedError | ssl.SSLCertVerificationError):
        return SmtpAuthError(None, f"mailbox misconfigured: {exc}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):  # e.g. SMTPUTF8 for this address
        return SmtpPermanent(None, str(exc))
    if data_started:
        return SmtpUncertain(None, f"connection lost after the message data was sent: {exc!r}")
    return SmtpTransient(None, f"{'could not connect' if opening else 'connection lost'}: {exc!r}")


class MailboxSession:
    """One SMTP connection to one mailbox, opened on first use, reopened after an error broke it."""

    def __init__(self, mailbox: SenderMailbox, *, timeout: float | None = None):
        self.mailbox = mailbox
        self.backend = get_connection(
            BACKEND,
            fail_silently=False,
            host=mailbox.host,
            port=mailbox.port,
            username=mailbox.username,
            password=mailbox.password,
            use_tls=mailbox.use_tls,
            use_ssl=mailbox.use_ssl,
            timeout=timeout if timeout is not None else settings.EMAIL_TIMEOUT,
        )
        # The error that stopped the connection from opening (or a login refusal): the rest of the batch
        # for this mailbox is not tried, so a down or misconfigured mailbox costs one timeout, not twenty.
        self.broken: SmtpError | None = None

    def send(self, envelope: Envelope) -> None:
        """Hand the email to the server; raises one of the Smtp* errors when it was not accepted."""
        if self.broken is not None:
            raise self.broken
        if self.backend.connection is None:
            try:
                self.backend.open()
            except OSError as exc:
                error = classify(exc, opening=True, data_started=False)
                self.close()
                self.broken = error
                raise error from exc
        try:
            self.backend.send_messages([build_email(envelope, connection=self.backend)])
        except ValueError as exc:  # Django refuses the address before any SMTP command (e.g. a newline in it)
            raise SmtpPermanent(None, f"cannot build the email: {exc}") from exc
        except OSError as exc:
            connection = self.backend.connection
            error = classify(exc, opening=False, data_started=bool(getattr(connection, "data_started", False)))
            if isinstance(error, SmtpTransient | SmtpUncertain | SmtpAuthError):
                self.close()  # smtplib may have dropped the socket (421, timeouts): start afresh next time
            if isinstance(error, SmtpAuthError):
                self.broken = error
            raise error from exc

    def close(self) -> None:
        try:
            self.backend.close()
        except OSError:
            self.backend.connection = None  # the server is gone already; nothing to say goodbye to
