"""The Telethon adapter, tested at the Telethon boundary: no network, no Telegram.

The real `TelegramClient._call` (what the adapter's rate-limited subclass calls via
super()) is replaced by a scripted Telegram that answers with real TL objects or
raises real Telethon errors; everything above it (entity resolution, the message
iterator, our limiter and error mapping) runs for real. The session is synthetic.
"""

import os
import re
import warnings
from datetime import UTC, datetime

import pytest
from telethon import TelegramClient, errors, functions, types
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from leadops import ratelimit
from telegram_sources import limits, telethon_gateway
from telegram_sources.gateway import (
    AccessDenied,
    FloodWait,
    InviteExpired,
    JoinResult,
    NotFound,
    PermanentError,
    SessionRevoked,
)
from telegram_sources.telethon_gateway import TelethonGateway, parse_proxy_url
from tests.conftest import ROOT

CHANNEL_ID = 2188344480
MARKED_ID = -1002188344480


def synthetic_session() -> str:
    """A well-formed StringSession with a random auth key: it belongs to nobody."""
    session = StringSession()
    session.set_dc(2, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))
    return session.save()


def channel(**fields) -> types.Channel:
    defaults = dict(
        id=CHANNEL_ID,
        title="Leads chat",
        photo=types.ChatPhotoEmpty(),
        date=None,
        access_hash=987654321,
        username="leads_chat",
        megagroup=True,
        participants_count=77,
    )
    return types.Channel(**{**defaults, **fields})


def user(user_id, first_name, **fields) -> types.User:
    return types.User(id=user_id, access_hash=user_id * 7, first_name=first_name, **fields)


def resolved(entity) -> types.contacts.ResolvedPeer:
    return types.contacts.ResolvedPeer(peer=types.PeerChannel(entity.id), chats=[entity], users=[])


def full_channel(participants_count) -> types.messages.ChatFull:
    full = types.ChannelFull(
        id=CHANNEL_ID,
        about="",
        read_inbox_max_id=0,
        read_outbox_max_id=0,
        unread_count=0,
        chat_photo=types.PhotoEmpty(id=0),
        notify_settings=types.PeerNotifySettings(),
        bot_info=[],
        pts=1,
        participants_count=participants_count,
    )
    return types.messages.ChatFull(full_chat=full, chats=[channel()], users=[])


def participants(count, *items, users) -> types.channels.ChannelParticipants:
    return types.channels.ChannelParticipants(count=count, participants=list(items), chats=[], users=users)


STATE = types.updates.State(pts=1, qts=0, date=datetime(2024, 1, 1, tzinfo=UTC), seq=0, unread_count=0)


class ScriptedTelegram:
    """Stands in for Telegram below `TelegramClient._call`: one answer (or error) per request type."""

    def __init__(self):
        self.requests = []
        self.thresholds = []
        self.script = {functions.updates.GetStateRequest: [STATE]}

    def answer(self, request_type, *answers):
        """Answers are used in order; the last one repeats. An exception instance is raised."""
        self.script[request_type] = list(answers)

    async def call(self, request, flood_sleep_threshold):
        self.requests.append(request)
        self.thresholds.append(flood_sleep_threshold)
        answers = self.script.get(type(request))
        if not answers:
            raise AssertionError(f"unscripted request {type(request).__name__}")
        answer = answers.pop(0) if len(answers) > 1 else answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def sent(self, request_type) -> list:
        return [r for r in self.requests if isinstance(r, request_type)]


@pytest.fixture
def telegram(monkeypatch, clock, settings):
    settings.TELEGRAM_RPS = 4
    settings.TELEGRAM_FLOOD_SLEEP_THRESHOLD = 60
    fake = ScriptedTelegram()

    async def call(client, sender, request, ordered=False, flood_sleep_threshold=None):
        return await fake.call(request, flood_sleep_threshold)

    monkeypatch.setattr(TelegramClient, "_call", call)

    async def connect(self):
        return None  # no sockets: the session's auth key is never sent anywhere

    monkeypatch.setattr(TelegramClient, "connect", connect)
    return fake


@pytest.fixture
def gateway(telegram):
    gw = TelethonGateway.from_credentials("acct-1", 12345, "0123456789abcdef", synthetic_session(), None)
    yield gw
    gw.close()


def test_it_takes_a_token_for_every_request(gateway, telegram, clock):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(functions.channels.GetFullChannelRequest, full_channel(77))
    telegram.answer(functions.channels.GetParticipantsRequest, participants(0, users=[]))

    gateway.get_group("@leads_chat")
    for page in range(5):
        gateway.get_participants_page(MARKED_ID, offset=page * 200)

    # GetState (authorization check) + ResolveUsername + GetFullChannel + 5 pages
    assert len(telegram.requests) == 8
    assert len(clock.sleeps) == 7
    assert sum(clock.sleeps) == pytest.approx(7 * 0.25)
    assert set(telegram.thresholds) == {0}  # Telethon never sleeps on a FloodWait by itself


def test_it_reads_a_group_and_resolves_it_once(gateway, telegram):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(functions.channels.GetFullChannelRequest, full_channel(1234))
    telegram.answer(functions.channels.GetParticipantsRequest, participants(0, users=[]))

    info = gateway.get_group("https://t.me/leads_chat")
    gateway.get_participants_page(info.id, offset=0)
    gateway.get_participants_page(info.id, offset=200, query="an")

    assert (info.id, info.title, info.username) == (MARKED_ID, "Leads chat", "leads_chat")
    assert info.participants_count == 1234
    assert info.is_broadcast is False
    assert len(telegram.sent(functions.contacts.ResolveUsernameRequest)) == 1
    listing, search = telegram.sent(functions.channels.GetParticipantsRequest)
    assert isinstance(listing.filter, types.ChannelParticipantsRecent)
    assert (search.filter, search.offset, search.limit) == (types.ChannelParticipantsSearch("an"), 200, 200)
    assert search.channel == types.InputChannel(CHANNEL_ID, 987654321)


def test_it_maps_participants(gateway, telegram):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    rights = types.ChatAdminRights()
    page = participants(
        1234,
        types.ChannelParticipantCreator(user_id=1, admin_rights=rights),
        types.ChannelParticipantAdmin(user_id=2, promoted_by=1, date=None, admin_rights=rights),
        types.ChannelParticipant(user_id=3, date=None),
        types.ChannelParticipantSelf(user_id=4, inviter_id=1, date=None),
        types.ChannelParticipantBanned(
            peer=types.PeerUser(5), kicked_by=1, date=None, banned_rights=types.ChatBannedRights(until_date=None)
        ),
        users=[
            user(1, "Anna", last_name="Owner", username="anna", status=types.UserStatusOnline(expires=None)),
            user(2, "Boris", bot=True, status=None),
            user(3, "Vera", premium=True, verified=True, phone="79990001122", status=types.UserStatusRecently()),
            user(4, "Me", status=types.UserStatusOffline(was_online=None)),
            user(5, "Gone", status=types.UserStatusEmpty()),
        ],
    )
    telegram.answer(functions.channels.GetParticipantsRequest, page)

    result = gateway.get_participants_page("leads_chat", offset=0, limit=500)

    assert result.count == 1234
    assert telegram.sent(functions.channels.GetParticipantsRequest)[0].limit == 200
    anna, boris, vera, me, gone = result.participants
    assert (anna.id, anna.username, anna.last_name, anna.status, anna.is_admin) == (1, "anna", "Owner", "online", True)
    assert (boris.is_bot, boris.is_admin, boris.status) == (True, True, None)
    assert (vera.is_premium, vera.is_verified, vera.phone, vera.status, vera.is_admin) == (
        True,
        True,
        "79990001122",
        "recently",
        False,
    )
    assert (vera.is_bot, anna.is_premium) == (False, False)
    assert (me.status, gone.status) == ("offline", "long_ago")


def test_it_pages_and_searches_a_basic_group_locally(gateway, telegram):
    chat = types.Chat(
        id=555, title="Old group", photo=types.ChatPhotoEmpty(), participants_count=3, date=None, version=1
    )
    members = types.ChatParticipants(
        chat_id=555,
        participants=[
            types.ChatParticipantCreator(user_id=1),
            types.ChatParticipant(user_id=2, inviter_id=1, date=None),
            types.ChatParticipantAdmin(user_id=3, inviter_id=1, date=None),
        ],
        version=1,
    )
    full = types.ChatFull(id=555, about="", participants=members, notify_settings=types.PeerNotifySettings())
    users = [user(1, "Anna", last_name="Smith"), user(2, "Ann", username="annie"), user(3, "Oleg", last_name="Annin")]
    telegram.answer(functions.messages.GetChatsRequest, types.messages.Chats(chats=[chat]))
    telegram.answer(
        functions.messages.GetFullChatRequest, types.messages.ChatFull(full_chat=full, chats=[chat], users=users)
    )

    info = gateway.get_group(-555)
    page = gateway.get_participants_page(-555, offset=1, limit=1, query="ann")

    assert (info.id, info.participants_count, info.is_broadcast) == (-555, 3, False)
    assert page.count == 3
    assert [(p.id, p.is_admin) for p in page.participants] == [(2, False)]
    assert [p.id for p in gateway.get_participants_page(-555, offset=0, query="smi").participants] == [1]


def test_it_sits_out_a_short_flood_wait_and_repeats_the_request(gateway, telegram, clock):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(
        functions.channels.GetParticipantsRequest,
        errors.FloodWaitError(request=None, capture=5),
        participants(1, types.ChannelParticipant(user_id=3, date=None), users=[user(3, "Vera")]),
    )

    page = gateway.get_participants_page("leads_chat", offset=0)

    assert [p.id for p in page.participants] == [3]
    assert len(telegram.sent(functions.channels.GetParticipantsRequest)) == 2
    assert max(clock.sleeps) == pytest.approx(5)  # blocked in the shared limiter, not inside Telethon
    assert ratelimit.blocked_until(limits.limiter_key("acct-1")) is None


def test_it_raises_a_long_flood_wait_and_blocks_the_account(gateway, telegram, clock):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(functions.channels.GetParticipantsRequest, errors.FloodWaitError(request=None, capture=900))

    with pytest.raises(FloodWait) as caught:
        gateway.get_participants_page("leads_chat", offset=0)

    assert (caught.value.seconds, caught.value.account) == (900, "acct-1")
    assert len(telegram.sent(functions.channels.GetParticipantsRequest)) == 1
    until = ratelimit.blocked_until(limits.limiter_key("acct-1"))
    assert until.timestamp() - clock.now == pytest.approx(900)
    with pytest.raises(FloodWait):  # every later request of the account is refused at once
        gateway.get_participants_page("leads_chat", offset=200)
    assert len(telegram.sent(functions.channels.GetParticipantsRequest)) == 1


@pytest.mark.parametrize(
    ("request_type", "error", "expected"),
    [
        (functions.channels.GetFullChannelRequest, errors.ChannelPrivateError(request=None), AccessDenied),
        (functions.contacts.ResolveUsernameRequest, errors.UsernameNotOccupiedError(request=None), NotFound),
        (functions.channels.GetFullChannelRequest, errors.AuthKeyUnregisteredError(request=None), SessionRevoked),
        (functions.channels.GetFullChannelRequest, errors.ChatAdminRequiredError(request=None), AccessDenied),
        (functions.channels.GetFullChannelRequest, errors.BotMethodInvalidError(request=None), PermanentError),
    ],
)
def test_it_maps_telethon_errors(gateway, telegram, request_type, error, expected):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(functions.channels.GetFullChannelRequest, full_channel(1))
    telegram.answer(request_type, error)

    with pytest.raises(expected) as caught:
        gateway.get_group("leads_chat")

    if issubclass(expected, PermanentError):  # SessionRevoked is one: callers catching PermanentError still do
        assert type(error).__name__ in str(caught.value)


def test_it_refuses_a_user_or_an_unauthorized_session(gateway, telegram):
    person = user(42, "Just a person", username="someone")
    telegram.answer(
        functions.contacts.ResolveUsernameRequest,
        types.contacts.ResolvedPeer(peer=types.PeerUser(42), chats=[], users=[person]),
    )
    with pytest.raises(NotFound):
        gateway.get_group("someone")

    telegram.answer(functions.updates.GetStateRequest, errors.AuthKeyUnregisteredError(request=None))
    stranger = TelethonGateway("acct-2", api_id=1, api_hash="h", string_session=synthetic_session())
    try:
        with pytest.raises(SessionRevoked, match="not authorized"):  # a PermanentError too
            stranger.get_group("leads_chat")
        assert len(telegram.sent(functions.contacts.ResolveUsernameRequest)) == 1  # nothing more was asked
    finally:
        stranger.close()


def test_it_reads_the_first_message_date(gateway, telegram):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    first = types.Message(id=1, peer_id=types.PeerChannel(CHANNEL_ID), date=datetime(2019, 5, 1, 12, tzinfo=UTC))
    telegram.answer(
        functions.messages.GetHistoryRequest,
        types.messages.Messages(messages=[first], topics=[], chats=[], users=[]),
        types.messages.Messages(messages=[], topics=[], chats=[], users=[]),
    )

    assert gateway.get_first_message_date("leads_chat") == datetime(2019, 5, 1, 12, tzinfo=UTC)
    assert gateway.get_first_message_date("leads_chat") is None
    history = telegram.sent(functions.messages.GetHistoryRequest)[0]
    assert (history.limit, history.offset_id, history.add_offset) == (1, 1, -1)  # the oldest message


# -- join / can_post ------------------------------------------------------------


def updates(*chats) -> types.Updates:
    return types.Updates(updates=[], users=[], chats=list(chats), date=None, seq=0)


def invite(**fields) -> types.ChatInvite:
    return types.ChatInvite(title="Secret leads", photo=types.PhotoEmpty(id=0), participants_count=3, color=0, **fields)


SECRET = channel(id=777, access_hash=111, title="Secret leads", username=None)


def test_it_joins_a_public_group_and_may_post_there(gateway, telegram, clock):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel(left=True)))
    telegram.answer(functions.channels.JoinChannelRequest, updates(channel(title="Leads chat, renamed")))
    telegram.answer(functions.channels.GetChannelsRequest, types.messages.Chats(chats=[channel()]))

    joined = gateway.join(username="@leads_chat")

    assert joined == JoinResult(group_id=MARKED_ID, title="Leads chat, renamed", already_member=False)
    (join,) = telegram.sent(functions.channels.JoinChannelRequest)
    assert join.channel == types.InputChannel(CHANNEL_ID, 987654321)
    assert gateway.can_post(joined.group_id) is True  # the peer join cached: one GetChannels, no resolve
    assert len(telegram.sent(functions.contacts.ResolveUsernameRequest)) == 1
    assert telegram.sent(functions.channels.GetChannelsRequest)[0].id == [types.InputPeerChannel(CHANNEL_ID, 987654321)]
    # GetState + ResolveUsername + JoinChannel + GetChannels, each after a token
    assert len(telegram.requests) == 4
    assert len(clock.sleeps) == 3
    assert set(telegram.thresholds) == {0}


def test_a_member_sends_no_join(gateway, telegram):
    # Not `left`: the resolved channel already says this account is a member.
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))

    joined = gateway.join(username="leads_chat")

    assert joined == JoinResult(group_id=MARKED_ID, title="Leads chat", already_member=True)
    assert not telegram.sent(functions.channels.JoinChannelRequest)


def test_a_join_that_finds_the_account_already_there_is_not_an_error(gateway, telegram):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel(left=True)))
    telegram.answer(functions.channels.JoinChannelRequest, errors.UserAlreadyParticipantError(request=None))

    assert gateway.join(username="leads_chat") == JoinResult(MARKED_ID, "Leads chat", already_member=True)


@pytest.mark.parametrize(
    "answer",
    [invite(), types.ChatInvitePeek(chat=SECRET, expires=datetime(2030, 1, 1, tzinfo=UTC))],
    ids=["invite", "peek"],
)
def test_it_joins_by_invite(gateway, telegram, answer):
    telegram.answer(functions.messages.CheckChatInviteRequest, answer)
    telegram.answer(functions.messages.ImportChatInviteRequest, updates(SECRET))
    telegram.answer(functions.channels.GetChannelsRequest, types.messages.Chats(chats=[SECRET]))

    joined = gateway.join(invite_hash="AbCdEf123", username="ignored_name")

    assert joined == JoinResult(group_id=-1000000000777, title="Secret leads", already_member=False)
    assert [r.hash for r in telegram.sent(functions.messages.CheckChatInviteRequest)] == ["AbCdEf123"]
    assert [r.hash for r in telegram.sent(functions.messages.ImportChatInviteRequest)] == ["AbCdEf123"]
    assert not telegram.sent(functions.contacts.ResolveUsernameRequest)
    assert gateway.can_post(joined.group_id) is True


def test_an_invite_to_a_group_of_the_account_is_not_imported(gateway, telegram):
    telegram.answer(functions.messages.CheckChatInviteRequest, types.ChatInviteAlready(chat=SECRET))

    assert gateway.join(invite_hash="AbCdEf123") == JoinResult(-1000000000777, "Secret leads", already_member=True)
    assert not telegram.sent(functions.messages.ImportChatInviteRequest)


def test_an_import_that_finds_the_account_already_there_checks_again(gateway, telegram):
    telegram.answer(functions.messages.CheckChatInviteRequest, invite(), types.ChatInviteAlready(chat=SECRET))
    telegram.answer(functions.messages.ImportChatInviteRequest, errors.UserAlreadyParticipantError(request=None))

    assert gateway.join(invite_hash="AbCdEf123") == JoinResult(-1000000000777, "Secret leads", already_member=True)
    assert len(telegram.sent(functions.messages.CheckChatInviteRequest)) == 2


def test_join_needs_a_username_or_an_invite(gateway, telegram):
    with pytest.raises(PermanentError, match="username or an invite"):
        gateway.join()
    assert not telegram.requests


CHECK, IMPORT = functions.messages.CheckChatInviteRequest, functions.messages.ImportChatInviteRequest
RESOLVE, JOIN = functions.contacts.ResolveUsernameRequest, functions.channels.JoinChannelRequest


@pytest.mark.parametrize(
    ("request_type", "error", "expected", "message"),
    [
        (CHECK, errors.InviteHashExpiredError, InviteExpired, "expired"),
        (CHECK, errors.InviteHashInvalidError, NotFound, "InviteHashInvalid"),
        (CHECK, errors.InviteHashEmptyError, NotFound, "InviteHashEmpty"),
        (IMPORT, errors.InviteHashExpiredError, InviteExpired, "expired"),
        (IMPORT, errors.InviteRequestSentError, AccessDenied, "joining needs an admin's approval; a request was sent"),
        (IMPORT, errors.ChannelsTooMuchError, PermanentError, "too many channels"),
        (IMPORT, errors.UserDeactivatedBanError, SessionRevoked, "UserDeactivatedBan"),
        (RESOLVE, errors.UsernameNotOccupiedError, NotFound, "username 'leads_chat' is not occupied"),
        (RESOLVE, errors.UsernameInvalidError, NotFound, "username 'leads_chat' is not occupied"),
        (RESOLVE, errors.SessionRevokedError, SessionRevoked, "SessionRevoked"),
        (JOIN, errors.ChannelPrivateError, AccessDenied, "the channel is private"),
        (JOIN, errors.ChatAdminRequiredError, AccessDenied, "admin rights are required"),
        (JOIN, errors.UserBannedInChannelError, AccessDenied, "banned"),
        (JOIN, errors.ChannelBannedError, AccessDenied, "banned"),
        (JOIN, errors.InviteRequestSentError, AccessDenied, "admin's approval"),
        (JOIN, errors.ChannelsTooMuchError, PermanentError, "too many channels"),
        (JOIN, errors.AuthKeyUnregisteredError, SessionRevoked, "AuthKeyUnregistered"),
        (JOIN, errors.UserDeactivatedError, SessionRevoked, "UserDeactivated"),
        (JOIN, errors.SessionExpiredError, SessionRevoked, "SessionExpired"),
    ],
)
def test_it_maps_join_errors(gateway, telegram, request_type, error, expected, message):
    telegram.answer(CHECK, invite())
    telegram.answer(RESOLVE, resolved(channel(left=True)))
    telegram.answer(request_type, error(request=None))
    by_invite = request_type in (CHECK, IMPORT)

    with pytest.raises(expected, match=message) as caught:
        gateway.join(**({"invite_hash": "AbCdEf123"} if by_invite else {"username": "leads_chat"}))

    if expected is PermanentError:
        assert type(caught.value) is PermanentError  # not taken for a dead session


def test_a_long_flood_wait_on_join_blocks_the_account(gateway, telegram, clock):
    telegram.answer(RESOLVE, resolved(channel(left=True)))
    telegram.answer(JOIN, errors.FloodWaitError(request=None, capture=3600))

    with pytest.raises(FloodWait) as caught:
        gateway.join(username="leads_chat")

    assert (caught.value.seconds, caught.value.account) == (3600, "acct-1")
    assert ratelimit.blocked_until(limits.limiter_key("acct-1")).timestamp() - clock.now == pytest.approx(3600)


def banned(**rights) -> types.ChatBannedRights:
    return types.ChatBannedRights(until_date=None, **rights)


ADMIN_RIGHTS = types.ChatAdminRights(post_messages=True, delete_messages=True)


@pytest.mark.parametrize(
    ("entity", "allowed"),
    [
        (channel(), True),
        (channel(default_banned_rights=banned(send_messages=True)), False),
        (channel(default_banned_rights=banned(send_plain=True)), False),
        (channel(default_banned_rights=banned(send_media=True)), True),
        (channel(banned_rights=banned(send_messages=True)), False),  # this account's own restriction
        (channel(banned_rights=banned(view_messages=True)), False),
        (channel(default_banned_rights=banned(send_messages=True), admin_rights=types.ChatAdminRights()), True),
        (channel(left=True), False),
        (channel(megagroup=None, broadcast=True), False),
        (channel(megagroup=None, broadcast=True, admin_rights=ADMIN_RIGHTS), True),
        (channel(megagroup=None, broadcast=True, admin_rights=types.ChatAdminRights(edit_messages=True)), False),
        (channel(megagroup=None, broadcast=True, creator=True), True),
        (channel(gigagroup=True), False),
        (types.ChannelForbidden(id=CHANNEL_ID, access_hash=987654321, title="Leads chat"), False),
        (errors.ChannelPrivateError(request=None), False),
    ],
)
def test_it_tells_whether_the_account_may_post(gateway, telegram, entity, allowed):
    telegram.answer(RESOLVE, resolved(channel()))
    gateway.join(username="leads_chat")
    answer = entity if isinstance(entity, Exception) else types.messages.Chats(chats=[entity])
    telegram.answer(functions.channels.GetChannelsRequest, answer)

    assert gateway.can_post(MARKED_ID) is allowed
    assert len(telegram.sent(functions.channels.GetChannelsRequest)) == 1
    assert not telegram.sent(functions.channels.GetParticipantRequest)


@pytest.mark.parametrize(
    ("fields", "allowed"),
    [
        ({}, True),
        ({"default_banned_rights": banned(send_messages=True)}, False),
        ({"default_banned_rights": banned(send_messages=True), "creator": True}, True),
        ({"deactivated": True}, False),
        ({"left": True}, False),
    ],
)
def test_it_tells_whether_the_account_may_post_in_a_basic_group(gateway, telegram, fields, allowed):
    chat = types.Chat(
        id=555, title="Old group", photo=types.ChatPhotoEmpty(), participants_count=3, date=None, version=1, **fields
    )
    telegram.answer(functions.messages.GetChatsRequest, types.messages.Chats(chats=[chat]))

    assert gateway.can_post(-555) is allowed
    assert len(telegram.requests) == 2  # GetState + GetChats


def test_it_parses_proxy_urls():
    assert parse_proxy_url("socks5://bob:p%40ss@10.0.0.1:1080") == {
        "proxy_type": "socks5",
        "addr": "10.0.0.1",
        "port": 1080,
        "username": "bob",
        "password": "p@ss",
        "rdns": True,
    }
    assert parse_proxy_url("http://proxy.example:3128") == {
        "proxy_type": "http",
        "addr": "proxy.example",
        "port": 3128,
        "username": None,
        "password": None,
        "rdns": True,
    }
    assert parse_proxy_url("") is None
    with pytest.raises(PermanentError) as caught:
        parse_proxy_url("ftp://bob:hunter2@host:21")
    assert "hunter2" not in str(caught.value)


def test_it_passes_the_proxy_to_telethon(telegram, monkeypatch):
    proxy_url = "socks5://u:p@127.0.0.1:9050"
    monkeypatch.setattr(telethon_gateway, "proxy_supported", lambda: False)
    with pytest.raises(PermanentError, match="python-socks"):  # never silently connect without the proxy
        TelethonGateway.from_credentials("acct-3", 1, "h", synthetic_session(), proxy_url)

    monkeypatch.setattr(telethon_gateway, "proxy_supported", lambda: True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Telethon's own "python-socks is not installed" in this venv
        gw = TelethonGateway.from_credentials("acct-3", 1, "h", synthetic_session(), proxy_url)
    try:
        assert gw._client._proxy == parse_proxy_url(proxy_url)
    finally:
        gw.close()


@pytest.mark.django_db  # a pool account of that name is looked up first
def test_it_names_a_missing_setting_without_leaking_secrets(settings):
    settings.TG_API_ID = ""
    settings.TG_API_HASH = "very-secret-api-hash"
    settings.TG_STRING_SESSION = "very-secret-session"

    with pytest.raises(PermanentError) as caught:
        TelethonGateway()

    assert "TG_API_ID" in str(caught.value)
    assert "very-secret" not in str(caught.value)


def test_it_closes_its_loop(gateway, telegram):
    telegram.answer(functions.contacts.ResolveUsernameRequest, resolved(channel()))
    telegram.answer(functions.channels.GetFullChannelRequest, full_channel(1))
    gateway.get_group("leads_chat")

    gateway.close()
    gateway.close()  # idempotent

    assert gateway._loop.is_closed()
    with pytest.raises(PermanentError, match="closed"):
        gateway.get_group("leads_chat")


def test_only_the_adapter_imports_telethon():
    allowed = {
        "telegram_sources/telethon_gateway.py",
        "telegram_sources/telethon_errors.py",
        "tests/telegram_sources/test_telethon_gateway.py",
        "tests/leadops/test_logging.py",  # builds a real StringSession to prove it never reaches a log
    }
    pattern = re.compile(r"^\s*(import|from)\s+telethon\b", re.MULTILINE)
    offenders = [
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if not {".venv", "var", "node_modules"} & set(path.relative_to(ROOT).parts)
        and pattern.search(path.read_text(encoding="utf-8", errors="replace"))
    ]
    assert sorted(offenders) == sorted(allowed)
