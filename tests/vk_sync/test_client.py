"""VkClient against the VK emulator: error mapping, retries, setting tokens aside, the per-token limit."""

import logging
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from leadops import ratelimit
from leadops.http import TransientHttpError
from tests.emulators.vk import VkEmulator
from vk_sync.client import (
    MSK,
    CommunityNotFound,
    NoUsableToken,
    PermanentVkError,
    ResponseTooBig,
    TokenHandle,
    TokenInvalid,
    TokenSetAside,
    TooManyRequests,
    VkApiError,
    VkClient,
    WrongTokenKind,
    parse_community_ref,
)
from vk_sync.models import VkCommunity, VkToken, VkTokenCommunity

USER_SECRET = "vk1.a.user-secret-DO-NOT-LEAK-1234567890"
COMMUNITY_SECRET = "vk1.a.community-secret-DO-NOT-LEAK-0987654321"
SECRETS = (USER_SECRET, COMMUNITY_SECRET)


@pytest.fixture
def vk(settings):
    with VkEmulator() as emulator:
        settings.VK_API_URL = emulator.url
        emulator.add_token(USER_SECRET, "user", label="user", admin={1: 2})
        emulator.add_token(COMMUNITY_SECRET, "community", label="community", group_id=1)
        emulator.add_group(1, "Demo community", screen_name="demo_club", members=3000)
        yield emulator


@pytest.fixture
def sleeps():
    return []


@pytest.fixture
def user():
    return TokenHandle(pk=None, label="user", kind="user", secret=USER_SECRET)


@pytest.fixture
def community():
    return TokenHandle(pk=None, label="community", kind="community", secret=COMMUNITY_SECRET)


@pytest.fixture
def client(vk, sleeps, user, community):
    return VkClient([community, user], sleep=sleeps.append)


@pytest.fixture
def db_tokens(db):
    user_row = VkToken.objects.create(kind="user", label="user", token=USER_SECRET)
    community_row = VkToken.objects.create(kind="community", label="community", token=COMMUNITY_SECRET)
    return user_row, community_row


@pytest.fixture
def db_client(vk, sleeps, db_tokens):
    return VkClient.from_db(sleep=sleeps.append)


def token_of(client, label):
    return next(t for t in client.tokens if t.label == label)


# --- plain calls -----------------------------------------------------------------------
def test_call_returns_the_response_and_sends_the_token_in_the_post_body(vk, client, community):
    users = client.call("users.get", {"user_ids": [1, 2, 3], "fields": "sex"}, token=community)
    assert [u["id"] for u in users] == [1, 2, 3]
    assert vk.requests["users.get"] == 1 and vk.tokens_in_query == 0
    with pytest.raises(ValueError, match="token="):
        client.call("users.get", {"access_token": "x"}, token=community)


def test_token_handle_hides_its_secret(user):
    assert USER_SECRET not in repr(user) and str(user) == "user"
    assert user.rate == 3 and TokenHandle(None, "c", "community", "s").rate == 20
    assert TokenHandle(None, "s", "service", "s").rate == 3


# --- error mapping ----------------------------------------------------------------------
def test_error_6_is_retried_on_the_same_token(vk, client, community, sleeps):
    vk.fail_next(code=6, times=2)
    assert client.call("users.get", {"user_ids": 1}, token=community)[0]["id"] == 1
    assert sleeps == [0.4, 0.8]
    assert vk.requests["users.get"] == 3 and len(vk.timestamps[COMMUNITY_SECRET]) == 3
    assert USER_SECRET not in vk.timestamps


def test_error_6_gives_up_after_five_tries(vk, client, community, sleeps):
    vk.fail_next(code=6, times=5)
    with pytest.raises(TooManyRequests) as caught:
        client.call("users.get", {"user_ids": 1}, token=community)
    assert caught.value.code == 6 and sleeps == [0.4, 0.8, 1.6, 3.2]
    assert community in client.usable_tokens()  # 6 does not set a token aside


@pytest.mark.parametrize(
    ("code", "rest"),
    [(9, timedelta(hours=1)), (14, timedelta(minutes=10)), (29, None)],
)
def test_9_14_29_set_the_token_aside_in_the_db_and_the_limiter(vk, db_client, db_tokens, code, rest):
    token = token_of(db_client, "community")
    vk.fail_next(code=code)
    before = datetime.now(UTC)
    with pytest.raises(TokenSetAside) as caught:
        db_client.call("users.get", {"user_ids": 1}, token=token)
    exc = caught.value
    if rest is not None:
        assert before + rest - timedelta(seconds=5) <= exc.until <= datetime.now(UTC) + rest
    else:  # 29: the daily quota, until the next midnight in Moscow
        local = exc.until.astimezone(MSK)
        assert (local.hour, local.minute, local.second) == (0, 0, 0)
        assert timedelta(0) < exc.until - before <= timedelta(days=1)
    if code == 14:
        assert exc.captcha_sid and exc.captcha_img
    row = VkToken.objects.get(label="community")
    assert row.status == VkToken.Status.RATE_LIMITED and row.rate_limited_until == exc.until
    assert f"VK error {code}" in row.last_error
    assert ratelimit.blocked_until("vk:community") is not None
    assert [t.label for t in db_client.usable_tokens()] == ["user"]
    requests_so_far = sum(vk.requests.values())
    with pytest.raises(TokenSetAside):  # without asking VK again
        db_client.call("users.get", {"user_ids": 1}, token=token)
    assert sum(vk.requests.values()) == requests_so_far
    assert [t.label for t in VkClient.from_db().tokens] == ["user"]


def test_another_worker_skips_a_token_blocked_in_the_limiter(vk, client, user, community):
    vk.fail_next(code=9)
    with pytest.raises(TokenSetAside):
        client.call("users.get", {"user_ids": 1}, token=community)
    other = VkClient([TokenHandle(None, "community", "community", COMMUNITY_SECRET), user])
    assert [t.label for t in other.usable_tokens()] == ["user"]
    with pytest.raises(TokenSetAside) as caught:
        other.call("users.get", {"user_ids": 1}, token=other.tokens[0])
    assert caught.value.until > datetime.now(UTC) + timedelta(minutes=59)
    assert vk.requests["users.get"] == 1


def test_error_5_marks_the_token_invalid(vk, db_client, db_tokens):
    token = token_of(db_client, "user")
    vk.fail_next(token=USER_SECRET, code=5)
    with pytest.raises(TokenInvalid) as caught:
        db_client.call("users.get", {"user_ids": 1}, token=token)
    assert caught.value.code == 5 and caught.value.method == "users.get"
    row = VkToken.objects.get(label="user")
    assert row.status == VkToken.Status.INVALID and "VK error 5 in users.get" in row.last_error
    assert [t.label for t in db_client.usable_tokens()] == ["community"]
    with pytest.raises(TokenInvalid):
        db_client.call("users.get", {"user_ids": 1}, token=token)
    assert vk.requests["users.get"] == 1
    assert [t.label for t in VkClient.from_db().tokens] == ["community"]


def test_error_13_too_big_or_too_many_calls_is_response_too_big(vk, client, community):
    vk.execute_max_bytes = 2000
    with pytest.raises(ResponseTooBig, match="Response size is too big"):
        client.execute('return API.groups.getMembers({"group_id": 1}).items;', token=community)
    vk.execute_max_bytes = 5 * 1024 * 1024
    loop = 'var i = 0; while (i < 26) { API.users.get({"user_ids": 1}); i = i + 1; } return i;'
    with pytest.raises(ResponseTooBig, match="Too many API calls"):
        client.execute(loop, token=community)
    with pytest.raises(PermanentVkError) as caught:  # a bug in the code: halving will not help
        client.execute("var x = null; return x.y;", token=community)
    assert caught.value.code == 13 and not isinstance(caught.value, ResponseTooBig)
    with pytest.raises(PermanentVkError) as caught:
        client.execute("var x = ;", token=community)
    assert caught.value.code == 12


@pytest.mark.parametrize("code", [15, 18, 30, 100, 203])
def test_other_codes_are_permanent(vk, client, community, sleeps, code):
    vk.fail_next(code=code)
    with pytest.raises(PermanentVkError) as caught:
        client.call("users.get", {"user_ids": 1}, token=community)
    assert caught.value.code == code and sleeps == []
    assert str(caught.value).startswith(f"VK error {code} in users.get: ")
    assert community in client.usable_tokens()


def test_27_and_28_say_the_token_kind_is_wrong(vk, client, community):
    vk.fail_next(code=27)
    with pytest.raises(WrongTokenKind):
        client.call("users.get", {"user_ids": 1}, token=community)
    assert community in client.usable_tokens()


def test_vk_internal_errors_are_retried(vk, client, community, sleeps):
    vk.fail_next(code=10, times=2)
    assert client.call("users.get", {"user_ids": 1}, token=community)
    assert sleeps == [1.0, 2.0]
    vk.fail_next(code=10, times=3)
    with pytest.raises(PermanentVkError):
        client.call("users.get", {"user_ids": 1}, token=community)


# --- HTTP trouble -------------------------------------------------------------------------
def test_5xx_and_dropped_connections_are_retried(vk, client, community, sleeps):
    vk.http_500_next(1)
    vk.drop_next(1)
    assert client.call("users.get", {"user_ids": 1}, token=community)[0]["id"] == 1
    assert sleeps == [1.0, 2.0] and vk.requests["users.get"] == 3


def test_http_trouble_gives_up_after_three_tries(vk, client, community, sleeps):
    vk.http_500_next(3)
    with pytest.raises(TransientHttpError, match="HTTP 500"):
        client.call("users.get", {"user_ids": 1}, token=community)
    assert sleeps == [1.0, 2.0]


def test_calls_that_must_not_repeat_are_not_retried(vk, client, community, sleeps):
    vk.drop_next(1)
    with pytest.raises(TransientHttpError):
        client.call("users.get", {"user_ids": 1}, token=community, retry_transient=False)
    assert sleeps == [] and vk.requests["users.get"] == 1


# --- execute and groups.getById --------------------------------------------------------------
def test_execute_returns_response_and_execute_errors(vk, client, community):
    vk.fail_next(method="groups.getMembers", code=6)
    code = """var out = [];
out.push(API.groups.getMembers({"group_id": 1, "offset": 0, "count": 1000}));
out.push(API.groups.getMembers({"group_id": 1, "offset": 1000, "count": 1000}));
return out;"""
    response, errors = client.execute(code, token=community)
    assert response[0] is False and response[1]["count"] == 3000 and len(response[1]["items"]) == 1000
    assert errors == [{"method": "groups.getMembers", "error_code": 6, "error_msg": "Too many requests per second"}]
    response, errors = client.execute("return Args.x + 1;", token=community, args={"x": "4"})
    assert (response, errors) == ("41", [])


@pytest.mark.parametrize("old_shapes", [False, True])
@pytest.mark.parametrize(
    "ref", ["demo_club", "club1", "public1", "https://vk.com/demo_club", "vk.com/club1", "@demo_club", 1, "-1", "1"]
)
def test_resolve_community_accepts_refs_and_both_response_shapes(vk, user, sleeps, ref, old_shapes):
    vk.old_shapes = old_shapes
    client = VkClient([user], sleep=sleeps.append)
    assert client.resolve_community(ref) == {
        "id": 1,
        "screen_name": "demo_club",
        "name": "Demo community",
        "members_count": 3000,
        "is_closed": 0,
        "is_admin": True,
        "admin_level": 2,
    }


def test_resolve_community_unknown_and_no_token(vk, client, user):
    with pytest.raises(CommunityNotFound):
        client.resolve_community("no_such_community")
    with pytest.raises(CommunityNotFound):
        parse_community_ref("https://vk.com/<script>")
    with pytest.raises(NoUsableToken):
        VkClient([]).resolve_community("demo_club")


def test_resolve_community_moves_on_from_a_token_set_aside(vk, client, community):
    vk.fail_next(token=COMMUNITY_SECRET, code=29)
    assert client.resolve_community("demo_club")["id"] == 1
    assert [t.label for t in client.usable_tokens()] == ["user"]


# --- the per-token limit ------------------------------------------------------------------------
def test_a_3_rps_token_never_draws_error_6_even_from_two_workers(vk, user):
    clients = [VkClient([TokenHandle(None, "user", "user", USER_SECRET)]) for _ in range(2)]
    failures = []

    def work(client):
        try:
            for _ in range(5):
                client.call("users.get", {"user_ids": 1}, token=client.tokens[0])
        except Exception as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert vk.errors_answered(6) == 0 and vk.requests["users.get"] == 10
    assert vk.max_requests_per_second(USER_SECRET) <= 3


# --- the database side --------------------------------------------------------------------
def test_from_db_picks_usable_tokens_of_the_kinds_and_community(vk, db):
    now = timezone.now()
    club, other = VkCommunity.objects.create(id=1, name="Demo"), VkCommunity.objects.create(id=2, name="Other")
    VkToken.objects.create(kind="user", label="a-user", token="s1")
    VkToken.objects.create(kind="user", label="b-invalid", token="s2", status="invalid")
    VkToken.objects.create(
        kind="user", label="c-resting", token="s3", status="rate_limited", rate_limited_until=now + timedelta(hours=1)
    )
    VkToken.objects.create(
        kind="service", label="d-rested", token="s4", status="rate_limited", rate_limited_until=now - timedelta(hours=1)
    )
    mine = VkToken.objects.create(kind="community", label="e-club", token="s5")
    theirs = VkToken.objects.create(kind="community", label="f-other", token="s6")
    VkTokenCommunity.objects.create(token=mine, community=club, admin_level=3)
    VkTokenCommunity.objects.create(token=theirs, community=other, admin_level=3)

    assert [t.label for t in VkClient.from_db().tokens] == ["a-user", "d-rested", "e-club", "f-other"]
    assert VkToken.objects.get(label="d-rested").status == "active"
    assert [t.label for t in VkClient.from_db(community=club).tokens] == ["a-user", "d-rested", "e-club"]
    assert [t.label for t in VkClient.from_db(community=2, kinds=("community",)).tokens] == ["f-other"]
    handle = VkClient.from_db(kinds=("user",)).tokens[0]
    assert (handle.secret, handle.kind, handle.pk) == ("s1", "user", VkToken.objects.get(label="a-user").pk)


def test_last_used_at_is_written_at_most_once_a_minute(vk, db_client, db_tokens):
    token = token_of(db_client, "community")
    db_client.call("users.get", {"user_ids": 1}, token=token)
    first = VkToken.objects.get(label="community").last_used_at
    assert first is not None
    db_client.call("users.get", {"user_ids": 1}, token=token)
    assert VkToken.objects.get(label="community").last_used_at == first
    assert VkToken.objects.get(label="user").last_used_at is None


def test_pick_token_rotates_and_says_when_none_is_left(vk, client, community, user):
    assert {client.pick_token().label, client.pick_token().label} == {"community", "user"}
    vk.fail_next(code=5)
    vk.fail_next(code=5)
    for token in (community, user):
        with pytest.raises(TokenInvalid):
            client.call("users.get", {"user_ids": 1}, token=token)
    with pytest.raises(NoUsableToken):
        client.pick_token()


# --- secrets ------------------------------------------------------------------------------
def test_no_token_in_logs_or_messages(vk, db_client, db_tokens, caplog):
    caplog.set_level(logging.DEBUG)
    user, community = token_of(db_client, "user"), token_of(db_client, "community")
    raised: list[Exception] = []
    vk.http_500_next(1)
    vk.drop_next(1)
    vk.fail_next(code=6)
    db_client.call("users.get", {"user_ids": 1}, token=community)
    vk.fail_next(code=15, msg=f"Access denied for {COMMUNITY_SECRET}")
    for code in (15, 100, 9):
        if code != 15:
            vk.fail_next(code=code)
        with pytest.raises(VkApiError) as caught:
            db_client.call("groups.getMembers", {"group_id": 1}, token=community)
        raised.append(caught.value)
    vk.fail_next(token=USER_SECRET, code=5)
    with pytest.raises(TokenInvalid) as caught:
        db_client.execute("return 1;", token=user)
    raised.append(caught.value)
    vk.http_500_next(3)
    with pytest.raises(TransientHttpError) as caught:
        VkClient([TokenHandle(None, "x", "community", COMMUNITY_SECRET)], sleep=lambda s: None).call(
            "users.get", {}, token=TokenHandle(None, "x", "community", COMMUNITY_SECRET)
        )
    raised.append(caught.value)

    assert "[token]" in str(raised[0])
    texts = [caplog.text, repr(db_client), *(str(e) for e in raised), *(repr(e) for e in raised)]
    texts += [r.last_error for r in VkToken.objects.all()]
    for text in texts:
        for secret in SECRETS:
            assert secret not in text
    assert vk.tokens_in_query == 0
    assert any("users.get" in r.getMessage() for r in caplog.records)  # the logs did say something
