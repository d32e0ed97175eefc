"""The production adapter of the Telegram port, on Telethon (MTProto as a user account).

This module and its error mapping (telethon_errors.py) are the only ones that
import Telethon: everything else speaks the port's types and errors (gateway.py).
The adapter is synchronous for its callers (jobs, management commands) and owns
a private asyncio loop that it drives with `run_until_complete`, so it must not
be used from inside a running event loop.

Rate limiting happens per MTProto request, not per method: `get_entity`, for
instance, may send one request or none, so `_LimitedClient._call` (the funnel
every Telethon request goes through) takes the account's token and applies the
FloodWait policy of `limits`.
"""

import asyncio
from datetime import UTC, datetime

from django.conf import settings
from telethon import TelegramClient, errors, functions, types, utils
from telethon.sessions import StringSession

from . import limits
from .gateway import (
    PAGE_SIZE,
    AccessDenied,
    FloodWait,
    GroupInfo,
    JoinResult,
    NotFound,
    Participant,
    ParticipantsPage,
    PermanentError,
    SessionRevoked,
    parse_group_ref,
    stored_credentials,
)
from .proxies import parse_proxy_url, proxy_supported
from .telethon_errors import FLOOD_ERRORS, SESSION_DEAD, is_not_found, translate_error

_STATUSES = {
    types.UserStatusOnline: "online",
    types.UserStatusRecently: "recently",
    types.UserStatusLastWeek: "last_week",
    types.UserStatusLastMonth: "last_month",
    types.UserStatusOffline: "offline",
    types.UserStatusEmpty: "long_ago",  # what Telegram shows as "last seen a long time ago"
}
_ADMIN_TYPES = (
    types.ChannelParticipantAdmin,
    types.ChannelParticipantCreator,
    types.ChatParticipantAdmin,
    types.ChatParticipantCreator,
)


def _participant(user: types.User, is_admin: bool) -> Participant:
    status = _STATUSES.get(type(user.status)) if user.status is not None else None
    return Participant(
        id=user.id,
        username=user.username,
        first_name=user.first_name,
        last_name=user.last_name,
        phone=user.phone,
        is_bot=bool(user.bot),
        is_premium=bool(user.premium),
        is_verified=bool(user.verified),
        status=status,
        is_admin=is_admin,
    )


def _matches(person: Participant, query: str) -> bool:
    # Telegram's own search semantics for a listing we filter locally: a word prefix.
    words = " ".join(filter(None, [person.first_name, person.last_name, person.username])).lower().split()
    return any(word.startswith(query) for word in words)


def _chat_in(updates, chat_id: int | None = None):
    """The group an Updates answer (of a join) is about: the one with `chat_id`, else the first."""
    chats = [chat for chat in getattr(updates, "chats", []) if isinstance(chat, types.Channel | types.Chat)]
    return next((chat for chat in chats if chat.id == chat_id), chats[0] if chats else None)


def _may_post(entity) -> bool:
    if entity.left or getattr(entity, "deactivated", False):
        return False
    if getattr(entity, "broadcast", False) or getattr(entity, "gigagroup", False):
        # Only admins post in a channel (or a broadcast group): the creator, or an admin with post rights.
        return bool(entity.creator or (entity.admin_rights and entity.admin_rights.post_messages))
    if entity.creator or entity.admin_rights:
        return True  # restrictions do not bind admins
    # send_plain: newer layers restrict text apart from media; an outreach message is text.
    rights = (entity.default_banned_rights, getattr(entity, "banned_rights", None))
    return not any(r and (r.view_messages or r.send_messages or r.send_plain) for r in rights)


class _LimitedClient(TelegramClient):
    """Every request Telethon sends passes through `_call`: take a token first, apply our FloodWait policy."""

    leadops_account = "default"

    async def _call(self, sender, request, ordered=False, flood_sleep_threshold=None):
        loop = asyncio.get_running_loop()
        while True:
            # The limiter sleeps (blocking); in a thread, so the connection's tasks keep running.
            await loop.run_in_executor(None, limits.wait_for_turn, self.leadops_account)
            try:
                return await super()._call(sender, request, ordered, flood_sleep_threshold=0)
            except FLOOD_ERRORS as exc:
                if limits.record_flood_wait(self.leadops_account, exc.seconds):
                    continue  # short: the next wait_for_turn sits out the block, then we repeat
                raise FloodWait(exc.seconds, self.leadops_account) from None


class TelethonGateway:
    def __init__(
        self,
        account: str = "default",
        *,
        api_id: int | str | None = None,
        api_hash: str | None = None,
        string_session: str | None = None,
        proxy_url: str | None = None,
    ):
        self.account = account
        if api_id is None and api_hash is None and string_session is None:
            # A pool account (the accounts app registers the lookup, so this module needs no import of it).
            stored = stored_credentials(account)
            if stored is not None:
                api_id, api_hash, string_session, proxy_url = stored
        if api_id is None and api_hash is None and string_session is None:
            # Single-account mode: the one account configured in the environment.
            api_id, api_hash, string_session = settings.TG_API_ID, settings.TG_API_HASH, settings.TG_STRING_SESSION
            names = ("TG_API_ID", "TG_API_HASH", "TG_STRING_SESSION")
        else:
            names = ("api_id", "api_hash", "string_session")
        # Name what is missing, never echo a value: these are secrets.
        missing = [name for name, value in zip(names, (api_id, api_hash, string_session), strict=True) if not value]
        if missing:
            raise PermanentError(f"Telegram account {account!r}: missing {', '.join(missing)}")
        try:
            api_id = int(api_id)
        except (TypeError, ValueError):
            raise PermanentError(f"Telegram account {account!r}: {names[0]} must be a number") from None
        try:
            session = StringSession(string_session)
        except Exception:  # binascii/struct errors: never echo the session itself
            raise PermanentError(f"Telegram account {account!r}: {names[2]} is not a valid session") from None
        proxy = parse_proxy_url(proxy_url)
        if proxy and not proxy_supported():
            raise PermanentError(f"Telegram account {account!r}: a proxy is set but python-socks is not installed")
        self._peers: dict[int | str, types.TypeInputPeer] = {}  # resolved once, reused for every page
        self._connected = False
        self._loop = asyncio.new_event_loop()

        async def make_client():
            # Built inside our loop: Telethon binds to the running loop, its `loop` argument is ignored.
            client = _LimitedClient(session, api_id, api_hash, proxy=proxy, flood_sleep_threshold=0)
            client.leadops_account = account
            return client

        self._client = self._loop.run_until_complete(make_client())

    @classmethod
    def from_credentials(cls, account, api_id, api_hash, string_session, proxy_url=None) -> "TelethonGateway":
        """For the accounts app: one gateway per stored account."""
        return cls(account, api_id=api_id, api_hash=api_hash, string_session=string_session, proxy_url=proxy_url)

    # -- plumbing ---------------------------------------------------------------

    def _run(self, coro_fn):
        if self._loop.is_closed():
            raise PermanentError("the Telegram gateway is closed")

        async def connected():
            if not self._connected:
                await self._client.connect()
                # Any request that needs a login. Not is_user_authorized(): it takes any RPC error (a 500...)
                # for a logout, and a SessionRevoked takes the account out of the pool.
                try:
                    await self._client(functions.updates.GetStateRequest())
                except (errors.UnauthorizedError, *SESSION_DEAD) as exc:
                    raise SessionRevoked(
                        f"Telegram account {self.account!r}: session is not authorized ({type(exc).__name__})"
                    ) from None
                self._connected = True
            return await coro_fn()

        try:
            return self._loop.run_until_complete(connected())
        except Exception as exc:
            translated = translate_error(exc)
            if translated is exc:
                raise
            raise translated from exc

    async def _entity(self, ref, peer: types.TypeInputPeer | None = None):
        """The group's full entity (Channel / Chat), refusing users and groups we were thrown out of."""
        entity = await self._client.get_entity(peer or parse_group_ref(ref))
        if isinstance(entity, types.Chat) and entity.migrated_to:
            # An old basic group upgraded to a supergroup: the members live there now.
            entity = await self._client.get_entity(utils.get_input_peer(entity.migrated_to))
        if isinstance(entity, types.ChannelForbidden | types.ChatForbidden):
            raise AccessDenied(f"{entity.title}: this account cannot see the group")
        if not isinstance(entity, types.Channel | types.Chat):
            raise NotFound(f"{ref!r} is not a group")
        self._remember(entity, ref)
        return entity

    def _remember(self, entity, *refs) -> None:
        peer = utils.get_input_peer(entity)
        self._peers[utils.get_peer_id(entity)] = peer
        for ref in refs:
            self._peers[parse_group_ref(ref)] = peer

    async def _peer(self, ref) -> types.TypeInputPeer:
        return self._peers.get(parse_group_ref(ref)) or utils.get_input_peer(await self._entity(ref))

    # -- the port ---------------------------------------------------------------

    def get_group(self, ref: str | int) -> GroupInfo:
        async def fetch():
            entity = await self._entity(ref)
            if isinstance(entity, types.Channel):
                full = await self._client(functions.channels.GetFullChannelRequest(utils.get_input_channel(entity)))
                count = full.full_chat.participants_count or entity.participants_count
            else:
                full = await self._client(functions.messages.GetFullChatRequest(entity.id))
                listing = full.full_chat.participants
                visible = isinstance(listing, types.ChatParticipants)
                count = len(listing.participants) if visible else entity.participants_count
            return GroupInfo(
                id=utils.get_peer_id(entity),
                title=entity.title,
                username=getattr(entity, "username", None),
                participants_count=count,
                is_broadcast=bool(getattr(entity, "broadcast", False)),
            )

        return self._run(fetch)

    def get_participants_page(
        self, group_id: int, *, offset: int, limit: int = PAGE_SIZE, query: str = ""
    ) -> ParticipantsPage:
        limit = max(1, min(limit, PAGE_SIZE))

        async def fetch():
            peer = await self._peer(group_id)
            if isinstance(peer, types.InputPeerChat):
                return await self._basic_chat_page(peer.chat_id, offset, limit, query)
            result = await self._client(
                functions.channels.GetParticipantsRequest(
                    channel=utils.get_input_channel(peer),
                    filter=types.ChannelParticipantsSearch(query) if query else types.ChannelParticipantsRecent(),
                    offset=offset,
                    limit=limit,
                    hash=0,
                )
            )
            users = {user.id: user for user in result.users if isinstance(user, types.User)}
            people = []
            for item in result.participants:
                user_id = getattr(item, "user_id", None)
                if user_id is None and isinstance(getattr(item, "peer", None), types.PeerUser):
                    user_id = item.peer.user_id  # banned / left participants carry a peer instead
                if user_id in users:
                    people.append(_participant(users[user_id], isinstance(item, _ADMIN_TYPES)))
            return ParticipantsPage(participants=people, count=result.count)

        return self._run(fetch)

    async def _basic_chat_page(self, chat_id: int, offset: int, limit: int, query: str) -> ParticipantsPage:
        # A basic group has no paged listing: one request returns everyone, we page and search locally.
        full = await self._client(functions.messages.GetFullChatRequest(chat_id))
        listing = full.full_chat.participants
        if not isinstance(listing, types.ChatParticipants):
            raise AccessDenied("the member list of this group is not visible to this account")
        users = {user.id: user for user in full.users if isinstance(user, types.User)}
        people = [
            _participant(users[item.user_id], isinstance(item, _ADMIN_TYPES))
            for item in listing.participants
            if item.user_id in users
        ]
        if query:
            people = [person for person in people if _matches(person, query.lower())]
        return ParticipantsPage(participants=people[offset : offset + limit], count=len(people))

    def get_first_message_date(self, group_id: int) -> datetime | None:
        async def fetch():
            peer = await self._peer(group_id)
            messages = await self._client.get_messages(peer, limit=1, reverse=True)  # oldest first
            if not messages or messages[0].date is None:
                return None
            date = messages[0].date
            return date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)

        return self._run(fetch)

    def join(self, *, username: str | None = None, invite_hash: str | None = None) -> JoinResult:
        """An invite wins over a username, as in the fake. Each request passes the limiter (`_call`)."""
        if not (username or invite_hash):
            raise PermanentError("join needs a username or an invite hash")
        return self._run(lambda: self._join_invite(invite_hash) if invite_hash else self._join_public(username))

    async def _join_public(self, username: str) -> JoinResult:
        # Membership comes free with the resolve: the full Channel's `left` flag is unset for a member, so a
        # member sends no JoinChannel (which Telegram would answer without error). UserAlreadyParticipant
        # covers a join made between the two requests.
        try:
            entity = await self._entity(username)
        except Exception as exc:
            if is_not_found(exc):
                raise NotFound(f"username {username!r} is not occupied") from exc
            raise
        if not entity.left:
            return self._joined(entity, True, username)
        if isinstance(entity, types.Chat):
            raise PermanentError(f"{entity.title}: a basic group can only be joined by invite")
        try:
            updates = await self._client(functions.channels.JoinChannelRequest(utils.get_input_channel(entity)))
        except errors.UserAlreadyParticipantError:
            return self._joined(entity, True, username)
        return self._joined(_chat_in(updates, entity.id) or entity, False, username)

    async def _join_invite(self, invite_hash: str) -> JoinResult:
        check = functions.messages.CheckChatInviteRequest(invite_hash)
        invite = await self._client(check)  # expired -> InviteExpired, invalid/empty -> NotFound
        if not isinstance(invite, types.ChatInviteAlready):  # ChatInvite, or ChatInvitePeek (a preview)
            try:
                updates = await self._client(functions.messages.ImportChatInviteRequest(invite_hash))
            except errors.UserAlreadyParticipantError:
                invite = await self._client(check)  # joined since the check (elsewhere): now it names the chat
            else:
                chat = _chat_in(updates, getattr(getattr(invite, "chat", None), "id", None))
                if chat is None:
                    raise PermanentError("ImportChatInvite: Telegram did not name the chat joined")
                return self._joined(chat, False)
            if not isinstance(invite, types.ChatInviteAlready):
                raise PermanentError("Telegram says this account is a member but the invite names no chat")
        return self._joined(invite.chat, True)

    def _joined(self, entity, already_member: bool, *refs) -> JoinResult:
        if isinstance(entity, types.ChannelForbidden | types.ChatForbidden):
            raise AccessDenied(f"{entity.title}: this account cannot see the group")
        self._remember(entity, *refs)
        return JoinResult(group_id=utils.get_peer_id(entity), title=entity.title, already_member=already_member)

    def can_post(self, group_id: int) -> bool:
        """One request (GetChannels / GetChats, none to resolve a peer `join` cached).

        The full Channel constructor carries this account's own standing there: `creator`, `admin_rights`,
        `banned_rights` (its own restrictions, what GetParticipant(me) would repeat) and the group's
        `default_banned_rights`; a Chat has all but `banned_rights` (a basic group only kicks).
        """

        async def check():
            try:
                entity = await self._entity(group_id, self._peers.get(parse_group_ref(group_id)))
            except (AccessDenied, errors.ChannelPrivateError, errors.ChatForbiddenError):
                return False  # kicked or banned: it may not
            return _may_post(entity)

        return self._run(check)

    async def _disconnect(self) -> None:
        await self._client.disconnect()

    def close(self) -> None:
        if self._loop.is_closed():
            return
        try:
            if self._client.is_connected():
                # Inside our loop: outside one, Telethon's disconnect() would pick another loop.
                self._loop.run_until_complete(self._disconnect())
            self._loop.run_until_complete(self._loop.shutdown_default_executor())
        finally:
            self._connected = False
            self._loop.close()
