"""Mailing sync and analysis against the VK emulator: community tokens only, exact data, crash and resume."""

from datetime import UTC, datetime

import pytest
import requests

from leadops.jobs import create_job
from leadops.models import JobRun
from tests.emulators.vk_messages import VkMessages
from vk_sync.client import NoUsableToken, PermanentVkError, TokenHandle, VkClient, WrongTokenKind
from vk_sync.models import VkCommunity, VkDialog, VkToken, VkTokenCommunity, VkUser
from vk_sync.services import mailing, mailing_analysis
from vk_sync.services.mailing import MailingIncomplete, sync_mailing
from vk_sync.services.mailing_analysis import analyze_mailing

pytestmark = pytest.mark.django_db(transaction=True)

GROUP = 1


@pytest.fixture
def messages(vk, transactional_db):
    world = VkMessages(vk).install()
    VkCommunity.objects.create(id=GROUP, name="Synthetic community", screen_name="synthetic_club")
    vk.add_group(GROUP, "Synthetic community", screen_name="synthetic_club")
    return world


def add_token(vk, n, kind="community", group_id=GROUP, link=GROUP):
    secret = f"synthetic-mailing-{kind}-{n}"
    vk.add_token(secret, kind, label=f"{kind}-{n}", group_id=group_id if kind == "community" else None)
    row = VkToken.objects.create(kind=kind, label=f"{kind}-{n}", token=secret)
    if link is not None and kind == "community":
        VkTokenCommunity.objects.create(token=row, community_id=link, admin_level=3)
    return row


def client(**kwargs):
    return VkClient.from_db(sleep=kwargs.pop("sleep", lambda s: None), **kwargs)


def run_sync(**kwargs):
    job = create_job(kind="vk-mailing", target="1")
    try:
        counts = sync_mailing(community_id=GROUP, job_id=job.pk, client=client(), **kwargs)
    except Exception as exc:
        job.refresh_from_db()
        return exc, job
    job.refresh_from_db()
    return counts, job


def run_analysis(mode="missing", sleep=lambda s: None):
    job = create_job(kind="vk-mailing-analysis", target="1")
    counts = analyze_mailing(community_id=GROUP, job_id=job.pk, mode=mode, client=client(sleep=sleep))
    job.refresh_from_db()
    return counts, job


def stored():
    return {
        d.user_id: (d.can_write, int(d.last_message_date.timestamp()))
        for d in VkDialog.objects.filter(community_id=GROUP)
    }


def expected(world):
    return {uid: (d.can_write, d.last_date) for uid, d in world.user_dialogs(GROUP).items()}


def test_sync_stores_every_user_dialog_and_skips_chats_and_communities(vk, messages):
    add_token(vk, 0)
    add_token(vk, 1)
    messages.add_dialogs(GROUP, users=1200)

    counts, job = run_sync()

    assert stored() == expected(messages)
    assert counts["dialogs"] == 1200 and counts["new"] == 1200 and counts["skipped"] == 24
    assert vk.executes == 1  # 1,224 conversations: one execute of 25 x 200
    named = [uid for uid in expected(messages) if uid % 97 and uid % 89]
    assert all(u.first_name and u.last_name for u in VkUser.objects.filter(id__in=named))
    assert VkUser.objects.filter(deactivated="deleted").exists()
    assert job.status == JobRun.Status.SUCCEEDED and job.counters["dialogs"] == 1200
    community = VkCommunity.objects.get(pk=GROUP)
    assert community.last_sync["mailing"]["result"] == "ok" and "next_offset" not in community.last_sync["mailing"]


def test_a_known_user_gets_profile_and_dialog_updated_and_analysis_kept(vk, messages):
    add_token(vk, 0)
    dialogs = messages.add_dialogs(GROUP, users=300)
    known = next(d for d in dialogs if d.type == "user" and d.peer_id % 97 and d.peer_id % 89)
    VkUser.objects.create(id=known.peer_id, first_name="Old", last_name="Name", city="Тверь")
    first = datetime(2020, 1, 1, tzinfo=UTC)
    VkDialog.objects.create(
        community_id=GROUP,
        user_id=known.peer_id,
        can_write=not known.can_write,
        last_message_date=first,
        first_message_date=first,
        first_message_from_id=known.peer_id,
    )

    counts, _ = run_sync()

    assert counts["new"] == 299 and counts["updated"] == 1
    user = VkUser.objects.get(id=known.peer_id)
    assert (user.first_name, user.last_name) != ("Old", "Name") and user.city == "Тверь"
    dialog = VkDialog.objects.get(user_id=known.peer_id)
    assert dialog.can_write == known.can_write and dialog.last_message_date.timestamp() == known.last_date
    assert dialog.first_message_date == first and dialog.first_message_from_id == known.peer_id
    assert VkDialog.objects.count() == 300


def test_only_community_tokens_of_the_community_are_used(vk, messages):
    user = add_token(vk, 0, kind="user")
    other = add_token(vk, 1, group_id=2, link=None)  # another community's token, not linked here
    add_token(vk, 2)
    messages.add_dialogs(GROUP, users=500)

    run_sync()
    run_analysis()

    assert stored() == expected(messages)
    assert VkDialog.objects.filter(first_message_date__isnull=True).count() == 0
    assert not vk.timestamps.get(user.token) and not vk.timestamps.get(other.token)
    assert {label for label, _method in messages.calls} == {"community-2"}


def test_the_emulator_refuses_user_and_service_tokens_like_vk(vk, messages):
    add_token(vk, 0, kind="user")
    vk.add_token("synthetic-service", "service", label="service")
    add_token(vk, 1, group_id=2, link=None)
    messages.add_dialogs(GROUP, users=10)
    plain = VkClient([], sleep=lambda s: None)

    def ask(secret, kind, **params):
        token = TokenHandle(pk=None, label=kind, kind=kind, secret=secret)
        return plain.call("messages.getConversations", {"count": 1, **params}, token=token)

    with pytest.raises(PermanentVkError) as user_error:
        ask("synthetic-mailing-user-0", "user", group_id=GROUP)
    assert user_error.value.code == 15
    with pytest.raises(WrongTokenKind):
        ask("synthetic-service", "service", group_id=GROUP)
    with pytest.raises(PermanentVkError) as other_group:
        ask("synthetic-mailing-community-1", "community", group_id=GROUP)
    assert other_group.value.code == 15


def test_without_a_community_token_the_job_fails_clearly(vk, messages):
    add_token(vk, 0, kind="user")
    messages.add_dialogs(GROUP, users=10)

    result, job = run_sync()

    assert isinstance(result, NoUsableToken) and "community token" in str(result)
    assert job.status == JobRun.Status.FAILED and not vk.requests


def test_3000_dialogs_crash_mid_run_then_resume_without_loss_or_duplicates(vk, messages, monkeypatch):
    monkeypatch.setattr(mailing, "CALLS_PER_EXECUTE", 3)  # 600 conversations a request: several chunks
    add_token(vk, 0)
    add_token(vk, 1)
    add_token(vk, 2, kind="user")  # in the pool, never used
    messages.add_dialogs(GROUP, users=3000)  # + 30 chats and 30 communities
    messages.crash_after(7)  # the first two requests go through, then every connection drops

    result, job = run_sync()

    assert isinstance(result, MailingIncomplete)
    assert job.status == JobRun.Status.FAILED
    checkpoint = VkCommunity.objects.get(pk=GROUP).last_sync["mailing"]
    kept = stored()
    assert checkpoint["result"] == "failed" and checkpoint["next_offset"] >= 600
    assert 500 <= len(kept) < 3000  # what was fetched before the crash is stored
    want = expected(messages)
    assert all(want[uid] == value for uid, value in kept.items())

    # Meanwhile: one new user writes, one dialog already stored and one not yet read get new messages.
    messages.new_message(GROUP, 77_000_001)
    read = next(iter(kept))
    unread = next(uid for uid in want if uid not in kept)
    messages.new_message(GROUP, read, from_id=-GROUP)
    messages.new_message(GROUP, unread)
    messages.recover()
    requests_before = vk.requests["execute"]

    counts, job = run_sync()

    assert job.status == JobRun.Status.SUCCEEDED
    assert stored() == expected(messages)  # exact: nothing lost, the moved ones up to date
    assert VkDialog.objects.filter(community_id=GROUP).count() == 3001
    assert counts["resumed_from"] == checkpoint["next_offset"] and counts["new"] == 3001 - len(kept)
    remaining = 3061 - checkpoint["next_offset"]
    # The rest, then the head once (+ slack: on SQLite a token's last_used_at write can meet a chunk's
    # write, "table is locked", and that chunk goes again on the other token).
    assert vk.requests["execute"] - requests_before <= -(-remaining // 600) + 1 + 2
    assert {label for label, _ in messages.calls} <= {"community-0", "community-1"}
    assert VkCommunity.objects.get(pk=GROUP).last_sync["mailing"]["result"] == "ok"

    counts, _ = run_sync()  # a fresh full run afterwards changes nothing
    assert counts["new"] == 0 and stored() == expected(messages)


def test_analysis_finds_every_first_message_with_error_6_injected(vk, messages):
    add_token(vk, 0)
    add_token(vk, 1)
    add_token(vk, 2)
    messages.add_dialogs(GROUP, users=3000)
    run_sync()
    vk.fail_next(method="messages.getHistory", code=6, times=30)  # inside executes: false, retried
    vk.fail_next(method="execute", code=6, times=12)  # top level: waited out, or another token
    sleeps = []

    counts, job = run_analysis(sleep=sleeps.append)

    world = messages.user_dialogs(GROUP)
    rows = VkDialog.objects.filter(community_id=GROUP)
    assert {r.user_id: (int(r.first_message_date.timestamp()), r.first_message_from_id) for r in rows} == {
        uid: (d.first_date, d.first_from) for uid, d in world.items()
    }
    assert not rows.filter(analyzed_at__isnull=True).exists()
    assert counts["analyzed"] == 3000 and counts["failed"] == 0
    assert counts["user_started"] == sum(1 for d in world.values() if d.first_from > 0)
    assert vk.errors_answered(6) == 42
    assert 150 <= vk.executes - 1 <= 150 + 12 + 30  # 20 users an execute, plus the retries
    assert {0.35, 0.7} <= set(sleeps)  # the second and third workers started staggered
    assert job.status == JobRun.Status.SUCCEEDED and (job.progress_done, job.progress_total) == (3000, 3000)
    assert VkCommunity.objects.get(pk=GROUP).last_sync["mailing-analysis"]["result"] == "ok"


def test_analysis_modes_missing_and_all(vk, messages):
    add_token(vk, 0)
    messages.add_dialogs(GROUP, users=100)
    run_sync()
    VkDialog.objects.filter(user_id__in=list(VkDialog.objects.values_list("user_id", flat=True)[:40])).update(
        first_message_date=datetime(2020, 1, 1, tzinfo=UTC)
    )

    counts, _ = run_analysis("missing")
    assert counts["dialogs"] == 60 and vk.subcalls["messages.getHistory"] == 60
    assert VkDialog.objects.filter(first_message_date=datetime(2020, 1, 1, tzinfo=UTC)).count() == 40

    counts, _ = run_analysis("all")
    assert counts["dialogs"] == 100 and vk.subcalls["messages.getHistory"] == 160
    assert not VkDialog.objects.filter(first_message_date=datetime(2020, 1, 1, tzinfo=UTC)).exists()
    with pytest.raises(ValueError):
        analyze_mailing(community_id=GROUP, job_id=create_job(kind="x").pk, mode="some")


def test_analysis_failures_are_reported_and_missing_mode_picks_them_up(vk, messages):
    token = add_token(vk, 0)
    messages.add_dialogs(GROUP, users=100)
    run_sync()
    vk.fail_next(method="messages.getHistory", code=10, times=100 * (1 + 3))  # every round fails

    with pytest.raises(mailing_analysis.AnalysisIncomplete):
        run_analysis()
    assert VkCommunity.objects.get(pk=GROUP).last_sync["mailing-analysis"]["result"] == "partial"
    assert VkToken.objects.get(pk=token.pk).status == VkToken.Status.ACTIVE

    counts, _ = run_analysis()
    assert counts["dialogs"] > 0 and counts["failed"] == 0
    assert not VkDialog.objects.filter(first_message_date__isnull=True).exists()


def test_the_emulator_speaks_vks_shapes_and_drops_connections_on_crash(vk, messages):
    vk.add_token("synthetic-shape", "community", label="shape", group_id=GROUP)
    messages.add_dialogs(GROUP, users=50, chats=2, groups=2)

    def api(method, **params):
        data = {"access_token": "synthetic-shape", "v": "5.199", **params}
        return requests.post(vk.url + method, data=data, timeout=10).json()

    page = api("messages.getConversations", offset=0, count=200, extended=1)["response"]
    assert page["count"] == 54 and len(page["items"]) == 54
    item = page["items"][0]
    assert set(item["conversation"]["peer"]) == {"id", "type", "local_id"}
    assert "allowed" in item["conversation"]["can_write"] and "date" in item["last_message"]
    dates = [i["last_message"]["date"] for i in page["items"]]
    assert dates == sorted(dates, reverse=True)
    assert {i["conversation"]["peer"]["type"] for i in page["items"]} == {"user", "chat", "group"}
    assert {p["id"] for p in page["profiles"]} >= {
        i["conversation"]["peer"]["id"] for i in page["items"] if i["conversation"]["peer"]["type"] == "user"
    }
    assert page["groups"]
    assert api("messages.getConversations", count=201)["error"]["error_code"] == 100

    dialog = next(iter(messages.user_dialogs(GROUP).values()))
    first = api("messages.getHistory", peer_id=dialog.peer_id, count=1, rev=1)["response"]
    assert first["count"] == dialog.messages
    assert (first["items"][0]["date"], first["items"][0]["from_id"]) == (dialog.first_date, dialog.first_from)
    last = api("messages.getHistory", peer_id=dialog.peer_id, count=1)["response"]["items"][0]
    assert last["date"] == dialog.last_date
    assert api("messages.getHistory", peer_id=1, count=1)["response"] == {"count": 0, "items": []}

    messages.crash_after(2, times=1)
    assert api("messages.getConversations", count=1)["response"]["count"] == 54
    with pytest.raises(requests.ConnectionError):
        api("messages.getConversations", count=1)
    assert api("messages.getConversations", count=1)["response"]["count"] == 54  # times=1: over
