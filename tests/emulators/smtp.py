"""A real SMTP server on loopback (aiosmtpd) that records every message it accepts, with faults on demand.

    with SmtpServer() as smtp:                       # 127.0.0.1, a free port
        mailbox = SenderMailbox.objects.create(host=smtp.host, port=smtp.port, use_tls=False, ...)
        ...
        assert smtp.count_by_recipient()["a@example.test"] == 1

Faults, per recipient address (lowercase; thread-safe to change while running):
- `spam`: the end of DATA is answered `550 5.7.1 Message rejected as spam` (a content filter).
- `reject`: RCPT answered `550 5.1.1 No such user` (a permanent, non-policy rejection).
- `tempfail`: RCPT answered `421 4.7.0 Try again later` (smtplib then drops the connection).
- `drop_in_data`: the message is received and recorded, then the connection is closed without
  an answer: the client cannot know whether it was delivered.
- `delay`: seconds the server waits after receiving DATA before it answers (and records).
- `username`/`password`: AUTH required; a wrong password gets `535 5.7.8`, no AUTH gets
  `530 5.7.0 Authentication required` at MAIL FROM.

Inspection: `messages` (Received: mail_from, rcpt_tos, data, peer, parsed), `count_by_recipient()`,
`in_data` (DATA commands being answered right now), `auth_failures` (one peer per refused AUTH
command; smtplib tries each mechanism the server offers, so one login may be refused twice).
"""

import asyncio
import email
import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email import policy
from typing import Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.conftest import free_port

SPAM_REPLY = "550 5.7.1 Message rejected as spam by content filter"
REJECT_REPLY = "550 5.1.1 No such user here"
TEMPFAIL_REPLY = "421 4.7.0 Try again later, closing connection"

# A loopback test server: its per-command log is noise. (Tests that ask for AUTH without TLS filter
# aiosmtpd's warning about it with `pytest.mark.filterwarnings("ignore:Requiring AUTH")`.)
logging.getLogger("mail.log").setLevel(logging.WARNING)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    peer: tuple = ()  # the client's (address, port): one per connection
    at: float = field(default_factory=time.time)

    @property
    def parsed(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


class _Handler:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_RCPT(self, smtp, session, envelope, address, rcpt_options):
        owner = self.server
        addr = address.lower()
        if addr in owner.tempfail:
            return TEMPFAIL_REPLY
        if addr in owner.reject:
            return REJECT_REPLY
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, smtp, session, envelope):
        owner = self.server
        with owner._lock:
            owner.in_data += 1
        try:
            if owner.delay:
                await asyncio.sleep(owner.delay)
            recipients = [r.lower() for r in envelope.rcpt_tos]
            if any(r in owner.spam for r in recipients):
                return SPAM_REPLY
            owner._record(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), tuple(session.peer))
            )
            if any(r in owner.drop_in_data for r in recipients):
                smtp.transport.close()  # delivered, but the client never hears so
            return "250 2.0.0 Message accepted for delivery"
        finally:
            with owner._lock:
                owner.in_data -= 1


class SmtpServer:
    host = "127.0.0.1"

    def __init__(self, *, port: int | None = None, username: str | None = None, password: str | None = None):
        self.port = port or free_port()
        self.username, self.password = username, password
        self.spam: set[str] = set()
        self.reject: set[str] = set()
        self.tempfail: set[str] = set()
        self.drop_in_data: set[str] = set()
        self.delay = 0.0
        self.messages: list[Received] = []
        self.in_data = 0
        self.auth_failures: list[tuple] = []  # the client's peer for each refused AUTH command
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def _record(self, received: Received) -> None:
        with self._lock:
            self.messages.append(received)

    def _authenticate(self, smtp, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        if not ok:
            with self._lock:
                self.auth_failures.append(tuple(session.peer))
        return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself

    def start(self) -> Self:
        kwargs = {}
        if self.username is not None:
            kwargs = {"authenticator": self._authenticate, "auth_required": True, "auth_require_tls": False}
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def count_by_recipient(self) -> Counter:
        with self._lock:
            return Counter(r.lower() for m in self.messages for r in m.rcpt_tos)

    def received_by(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self):
                return True
            time.sleep(0.02)
        return False
