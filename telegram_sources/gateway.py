"""The Telegram port: what leadops asks of Telegram, in our own types and errors.

Adapters: `telethon_gateway.TelethonGateway` (production) and
`fake_gateway.FakeTelegramGateway` (tests, demo). `get_gateway()` picks the one
named by TELEGRAM_GATEWAY. Every MTProto request an adapter makes goes through
`limits.limited_call`, so the per-account rate and FloodWait policy are the same
for both and hold across all workers.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

PAGE_SIZE = 200  # Telegram's maximum for one GetParticipants request


class TelegramError(Exception):
    """Base of the errors the port raises."""


class FloodWait(TelegramError):
    def __init__(self, seconds: int, account: str = ""):
        super().__init__(f"FloodWait: {account or 'account'} must wait {seconds} s")
        self.seconds = int(seconds)
        self.account = account


class AccessDenied(TelegramError):
    """Private group, kicked, banned, or admin rights needed."""


class NotFound(TelegramError):
    """No such group or user."""


class PermanentError(TelegramError):
    """Any other error retrying will not fix (deactivated account, invalid request...)."""


class SessionRevoked(PermanentError):
    """The account's session is revoked, expired or the account deactivated/banned: stop using it."""


class InviteExpired(TelegramError):
    """An invite link that expired or was revoked."""


@dataclass(frozen=True)
class GroupInfo:
    id: int  # marked id (-100… for channels)
    title: str
    username: str | None = None
    participants_count: int | None = None
    is_broadcast: bool = False


@dataclass(frozen=True)
class Participant:
    id: int
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    is_bot: bool = False
    is_premium: bool = False
    is_verified: bool = False
    status: str | None = None  # online, recently, last_week, last_month, offline, long_ago
    is_admin: bool = False


@dataclass(frozen=True)
class JoinResult:
    group_id: int  # marked id
    title: str
    already_member: bool = False


@dataclass(frozen=True)
class ParticipantsPage:
    participants: list[Participant]
    count: int | None  # what Telegram says the listing (or search) holds in all


class TelegramGateway(Protocol):
    account: str

    def get_group(self, ref: str | int) -> GroupInfo: ...

    def get_participants_page(
        self, group_id: int, *, offset: int, limit: int = PAGE_SIZE, query: str = ""
    ) -> ParticipantsPage:
        """One GetParticipants request: the plain listing, or a search when `query` is given."""

    def get_first_message_date(self, group_id: int) -> datetime | None: ...

    def join(self, *, username: str | None = None, invite_hash: str | None = None) -> JoinResult:
        """Join a public group by username, or a private one by invite (checked first, then imported).

        Already being a member is not an error: `already_member` says so.
        """

    def can_post(self, group_id: int) -> bool:
        """Whether this account may send messages there (not a broadcast channel, not restricted)."""

    def close(self) -> None: ...


_USERNAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{3,31}$")


def parse_group_ref(ref: str | int) -> int | str:
    """`-1002188344480`, `2188344480`, `@name`, `name`, `t.me/name` -> a marked id or a username.

    A bare positive number is taken as a channel id (what Telegram clients show
    without the -100 prefix), since a group is never a positive user id.
    """
    text = str(ref).strip()
    if re.fullmatch(r"-?\d+", text):
        number = int(text)
        return number if number < 0 else int(f"-100{number}")
    text = re.sub(r"^(https?://)?(www\.)?(t\.me|telegram\.me)/", "", text).lstrip("@").strip("/")
    if not _USERNAME.match(text):
        raise NotFound(f"not a group id or username: {ref!r}")
    return text


# account name -> (api_id, api_hash, string_session, proxy_url) of a stored pool account, or None.
# The accounts app registers it, so the port and its adapters need no import of that app.
_credentials_provider: Callable[[str], tuple | None] | None = None


def set_credentials_provider(provider: Callable[[str], tuple | None] | None) -> None:
    global _credentials_provider
    _credentials_provider = provider


def stored_credentials(account: str) -> tuple | None:
    return _credentials_provider(account) if _credentials_provider else None


def get_gateway(account: str | None = None) -> TelegramGateway:
    return import_string(settings.TELEGRAM_GATEWAY)(account=account or "default")
