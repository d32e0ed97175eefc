"""The admin index as a dashboard: one card per area, numbers read cheaply, cards only for
the apps a user may see, limiter counters from the shared limiter."""

import re
from datetime import UTC, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import TelegramAccount
from leadops import ratelimit
from leadops.models import JobRun
from outreach.models import Company, Contact, OutreachMessage, SenderMailbox, SerpQuery
from outreach.window import window_from_settings
from telegram_sources.models import TelegramGroup, TelegramUser
from tests.conftest import free_port, redis_url
from vk_sync.models import VkCommunity, VkMembershipEvent, VkToken, VkUser

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")
CARDS = ("telegram", "vk", "outreach", "jobs", "limits")
SECRETS = {"api_id": "12345", "api_hash": "synthetic-hash", "string_session": "synthetic-session"}
REFERENCE = -100777


# --- reading the page -----------------------------------------------------------------------------


def card(html: str, name: str) -> str:
    """The HTML of one card (empty when the page has no such card)."""
    match = re.search(rf'<section [^>]*data-card="{name}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def stat(html: str, name: str, key: str) -> str:
    match = re.search(rf'data-stat="{re.escape(key)}">([^<]*)<', card(html, name))
    assert match, f"no {key} in the {name} card"
    return match.group(1)


def row(html: str, name: str, attr: str, value: str) -> str:
    match = re.search(rf'<tr [^>]*{attr}="{re.escape(value)}".*?</tr>', card(html, name), re.S)
    assert match, f"no row {attr}={value} in the {name} card"
    return match.group(0)


def counter(row_html: str, what: str) -> str:
    return re.search(rf'data-counter="{what}">([^<]*)<', row_html).group(1).strip()


def index(client) -> str:
    response = client.get(INDEX)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def in_process_limiter(settings):
    settings.REDIS_URL = ""
    ratelimit.reset_limiter()


def staff_client(client, django_user_model, *perms: str):
    user = django_user_model.objects.create_user("looker", password="pw", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    client.force_login(user)
    return client


# --- synthetic data per area ----------------------------------------------------------------------


def make_accounts(now):
    def account(name, **fields):
        return TelegramAccount.objects.create(session_name=name, **SECRETS, **fields)

    account("acc-active")
    account("acc-cooldown", status="cooldown", next_allowed_action_time=now + timedelta(hours=2, minutes=5))
    account("acc-back", status="flood_wait", next_allowed_action_time=now - timedelta(minutes=1))  # back by itself
    account("acc-blocked")  # a FloodWait the limiter knows of before the row does
    account("acc-banned", status="banned")
    ratelimit.block("tg:acc-blocked", 600)


def make_seeders(settings, now, *, candidates=12):
    settings.REFERENCE_GROUP = str(REFERENCE)
    settings.REFERENCE_MAX_AGE_HOURS = 24
    settings.SEEDERS_BATCH_SIZE = 10
    TelegramGroup.objects.create(kind="reference", telegram_id=REFERENCE, last_exported_at=now - timedelta(hours=3))
    TelegramUser.objects.bulk_create(
        [TelegramUser(telegram_id=9000 + n, username=f"cand{n}", offline_cnt=n) for n in range(candidates)]
        + [TelegramUser(telegram_id=8000, username="member", offline_cnt=99, in_reference=True)]
    )


def make_vk(now):
    community = VkCommunity.objects.create(
        id=4242,
        screen_name="synthetic_club",
        name="Synthetic club",
        members_count=1200,
        last_sync={
            "posts": {"at": (now - timedelta(hours=5)).isoformat(), "result": "partial", "counts": {"fetched": 40}},
            "subscribers": {
                "at": (now - timedelta(hours=2)).isoformat(),
                "result": "ok",
                "counts": {"members": 1200, "joined": 5, "left": 3},
            },
        },
    )
    VkUser.objects.bulk_create(VkUser(id=n) for n in range(1, 9))
    events = [("join", 0), ("join", 0), ("join", 0), ("join", 3), ("leave", 1), ("leave", 1), ("join", 20)]
    VkMembershipEvent.objects.bulk_create(
        VkMembershipEvent(community=community, user_id=n + 1, kind=kind, at=now - timedelta(days=days))
        for n, (kind, days) in enumerate(events)
    )
    return community


def make_outreach(now):
    for n, status in enumerate(["pending", "pending", "in_progress", "completed"]):
        SerpQuery.objects.create(text=f"q{n}", lr=213, hash=f"h{n}", status=status, scheduled_for=now)
    statuses = ["new", "new", "new", "duplicate", *["contacts_ready"] * 7]
    companies = Company.objects.bulk_create(
        Company(canonical_domain=f"firm{n}.example.test", status=status) for n, status in enumerate(statuses)
    )
    box = SenderMailbox.objects.create(name="box-1", host="127.0.0.1", from_address="s@box.example.test", daily_cap=10)
    SenderMailbox.objects.create(name="box-2", host="127.0.0.1", from_address="t@box.example.test", daily_cap=0)
    window = window_from_settings()
    start, _ = window.day_bounds(window.local_date(now))  # today in OUTREACH_TIMEZONE
    messages = [
        ("scheduled", None),
        ("scheduled", None),
        ("failed", None),
        ("needs_review", None),
        ("sent", start + timedelta(seconds=1)),
        ("sent", start + timedelta(seconds=2)),
        ("sent", start - timedelta(seconds=1)),  # yesterday, one second before local midnight
        ("sent", start - timedelta(days=5)),
    ]
    for company, (status, sent_at) in zip(companies, messages, strict=False):
        contact = Contact.objects.create(company=company, email=f"info@{company.canonical_domain}")
        OutreachMessage.objects.create(
            company=company, contact=contact, status=status, sent_at=sent_at, mailbox=box if sent_at else None
        )


def make_jobs(now):
    running = JobRun.objects.create(kind="vk-subscribers", target="club4242", status="running")
    JobRun.objects.filter(pk=running.pk).update(progress_done=5, progress_total=10)
    JobRun.objects.create(kind="tg-export", target="@queued", status="queued")
    JobRun.objects.create(
        kind="tg-export",
        target="@recent",
        status="failed",
        error="FloodWait 900 s",
        finished_at=now - timedelta(hours=1),
    )
    JobRun.objects.create(
        kind="tg-export", target="@old", status="failed", error="old failure", finished_at=now - timedelta(hours=30)
    )
    JobRun.objects.create(kind="selfcheck", status="succeeded", finished_at=now)


@pytest.fixture
def world(settings, in_process_limiter):
    now = timezone.now()
    make_accounts(now)
    make_seeders(settings, now)
    make_vk(now)
    make_outreach(now)
    make_jobs(now)
    VkToken.objects.create(label="main", kind=VkToken.Kind.USER, token="synthetic-vk-token")
    return now


# --- the page ---------------------------------------------------------------------------------------


def test_it_renders_every_card_with_no_data(admin_client, in_process_limiter):
    html = index(admin_client)

    for name in CARDS:
        assert card(html, name), name
    assert "No Telegram accounts yet" in card(html, "telegram")
    assert "REFERENCE_GROUP is not set" in card(html, "telegram")
    assert stat(html, "telegram", "candidates_left") == "0"
    assert "No VK communities yet — add one in" in card(html, "vk")
    assert "Nothing in the outreach pipeline yet" in card(html, "outreach")
    assert "No sender mailboxes yet" in card(html, "outreach")
    assert "data-stat" not in card(html, "outreach")  # one line, not a wall of zeros
    assert "No job is running." in card(html, "jobs") and "No failures in the last 24 h." in card(html, "jobs")
    assert "No limiter activity in the last 24 h." in card(html, "limits")
    # The rest of the index is still there, below the cards.
    assert html.index('id="dashboard"') < html.index('id="seeders-card"') < html.index('id="latest-jobruns"')
    assert "app-outreach" in html


def test_its_style_and_charts_come_from_the_site_itself(admin_client, world):
    html = index(admin_client)

    assert '<link rel="stylesheet" href="/static/leadops/dashboard.css">' in html
    assert re.findall(r'<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//', html) == []  # no CDN
    assert card(html, "vk").count("<svg") == 1 and card(html, "outreach").count("<svg") == 1


def test_the_telegram_card_counts_the_pool_and_says_when_each_cooling_account_returns(admin_client, world):
    html = index(admin_client)

    assert stat(html, "telegram", "accounts_active") == "2"  # acc-active, acc-back
    assert stat(html, "telegram", "accounts_cooling") == "2"
    assert stat(html, "telegram", "accounts_banned") == "1"
    assert "in 2 h 5 min" in row(html, "telegram", "data-account", "acc-cooldown")
    blocked = row(html, "telegram", "data-account", "acc-blocked")
    assert "in 10 min" in blocked and "FloodWait" in blocked
    assert 'data-account="acc-back"' not in card(html, "telegram")
    cooling = card(html, "telegram").split('data-list="cooling"')[1]
    assert cooling.index("acc-blocked") < cooling.index("acc-cooldown")  # soonest back first
    assert stat(html, "telegram", "reference_age") == "3 h"
    assert stat(html, "telegram", "candidates_left") == "12"
    assert reverse("admin:seeders_seederbatch_review") in card(html, "telegram")
    assert "status__exact=banned" in card(html, "telegram")


def test_the_candidate_count_stops_at_its_cap(admin_client, world, monkeypatch):
    from leadops.dashboard import telegram

    monkeypatch.setattr(telegram, "CANDIDATES_CAP", 5)
    assert stat(index(admin_client), "telegram", "candidates_left") == "5+"


def test_a_stale_reference_snapshot_is_flagged(admin_client, world, settings):
    settings.REFERENCE_MAX_AGE_HOURS = 2
    html = index(admin_client)

    assert stat(html, "telegram", "reference_age") == "3 h"
    assert "refresh it before approving" in card(html, "telegram")


def test_the_vk_card_shows_each_lists_last_sync_and_joins_and_leaves_per_day(admin_client, world):
    html = index(admin_client)
    vk = card(html, "vk")

    assert stat(html, "vk", "communities") == "1"
    assert stat(html, "vk", "joins") == "4" and stat(html, "vk", "leaves") == "2"  # the join 20 days ago is out
    assert stat(html, "vk", "community_4242_joins") == "4"
    assert "subscribers: ok 2 h ago (1,200 members, 5 joined, 3 left)" in vk
    assert vk.index('data-list="subscribers"') < vk.index('data-list="posts"')  # the lists' order, not a-z
    assert 'class="sync-partial"' in vk
    assert "community__id__exact=4242" in vk and reverse("admin:vk_sync_vkcommunity_change", args=[4242]) in vk
    assert 'data-series="joins"' in vk and 'data-series="leaves"' in vk
    assert vk.count(": 3</title>") == 1  # today's three joins: one point of the chart


def test_the_vk_card_lists_a_few_communities_and_links_to_the_rest(admin_client, in_process_limiter, monkeypatch):
    from leadops.dashboard import vk

    monkeypatch.setattr(vk, "MAX_COMMUNITIES", 2)
    VkCommunity.objects.bulk_create(VkCommunity(id=n, name=f"club {n}") for n in range(1, 5))
    html = index(admin_client)

    assert stat(html, "vk", "communities") == "4"
    assert card(html, "vk").count('class="dashboard-community"') == 2
    assert "All 4 communities" in card(html, "vk")


def test_the_outreach_card_shows_the_funnel_and_the_mailboxes_use_of_their_cap(admin_client, world):
    html = index(admin_client)
    outreach = card(html, "outreach")

    assert stat(html, "outreach", "queries_pending") == "2"
    assert stat(html, "outreach", "queries_running") == "1"
    assert stat(html, "outreach", "companies_new") == "3"
    assert stat(html, "outreach", "companies_duplicate") == "1"
    assert stat(html, "outreach", "companies_contacts_ready") == "7"
    assert stat(html, "outreach", "messages_scheduled") == "2"
    assert stat(html, "outreach", "messages_sent_today") == "2"  # today in OUTREACH_TIMEZONE, not UTC
    assert stat(html, "outreach", "messages_failed") == "1"
    assert stat(html, "outreach", "messages_needs_review") == "1"
    box = row(html, "outreach", "data-mailbox", "box-1")
    assert stat(html, "outreach", "mailbox_box-1_sent") == "2" and "/ 10" in box
    assert '<progress max="100" value="20">' in box
    assert '<progress max="100" value="100">' in row(html, "outreach", "data-mailbox", "box-2")  # a cap of 0 is full
    assert "Sent per day (14 days: 4)" in outreach  # the one five days ago counts, yesterday's too
    assert "status__exact=pending" in outreach and "status__exact=needs_review" in outreach
    assert "Nothing in the outreach pipeline yet" not in outreach


def test_the_jobs_card_shows_running_jobs_with_progress_and_the_last_days_failures(admin_client, world):
    html = index(admin_client)
    jobs = card(html, "jobs")

    assert stat(html, "jobs", "jobs_running") == "1"
    assert stat(html, "jobs", "jobs_queued") == "1"
    assert stat(html, "jobs", "jobs_failed_24h") == "1"  # the one 30 h ago is older
    running = JobRun.objects.get(status="running")
    assert 'value="50"' in row(html, "jobs", "data-job", str(running.pk))
    assert "FloodWait 900 s" in jobs and "old failure" not in jobs
    assert "status__exact=failed" in jobs


@pytest.fixture(params=["in-process", pytest.param("redis", marks=pytest.mark.redis)])
def limiter(request, settings):
    settings.REDIS_URL = redis_url() if request.param == "redis" else ""
    ratelimit.reset_limiter()
    return request.param


def test_the_limits_card_shows_the_limiters_counters(admin_client, limiter):
    TelegramAccount.objects.create(session_name="acc-1", **SECRETS)
    TelegramAccount.objects.create(session_name="acc-idle", **SECRETS)
    VkToken.objects.create(label="main", kind=VkToken.Kind.USER, token="synthetic-vk-token")
    for _ in range(3):
        ratelimit.acquire("tg:acc-1", rate=1000, burst=5)
    ratelimit.count("tg:acc-1", waits=1)
    ratelimit.block("tg:acc-1", 900)  # a FloodWait
    ratelimit.acquire("vk:main", rate=1000, burst=5)
    ratelimit.count("vk:main", rate_errors=2)
    ratelimit.acquire("yandex", rate=1000, burst=5)
    ratelimit.count("stray-key", requests=7)

    html = index(admin_client)

    tg = row(html, "limits", "data-key", "tg:acc-1")
    assert [counter(tg, what) for what in ("requests", "waits", "blocks", "rate_errors")] == ["3", "1", "1", "0"]
    assert "in 15 min" in counter_cell(tg) and 'class="troubled"' in tg
    idle = row(html, "limits", "data-key", "tg:acc-idle")
    assert counter(idle, "requests") == "0" and "troubled" not in idle
    vk = row(html, "limits", "data-key", "vk:main")
    assert counter(vk, "requests") == "1" and counter(vk, "rate_errors") == "2"
    assert counter(row(html, "limits", "data-key", "yandex"), "requests") == "1"
    assert counter(row(html, "limits", "data-key", "yandex-hour"), "requests") == "0"
    assert counter(row(html, "limits", "data-key", "stray-key"), "requests") == "7"  # superusers see every key
    assert "No limiter activity" not in card(html, "limits")
    assert "synthetic-vk-token" not in html


def counter_cell(row_html: str) -> str:
    return re.search(r'data-counter="blocked">(.*?)</td>', row_html, re.S).group(1)


def test_a_limiter_that_does_not_answer_leaves_one_line_and_the_page_up(admin_client, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    ratelimit.reset_limiter()
    TelegramAccount.objects.create(session_name="acc-1", **SECRETS)

    html = index(admin_client)

    assert "Counters unavailable: the rate limiter&#x27;s store did not answer" in card(html, "limits")
    assert stat(html, "telegram", "accounts_active") == "1"


def test_a_card_that_fails_says_so_and_the_others_still_show(admin_client, world, monkeypatch):
    from leadops.dashboard import vk

    def broken(*args, **kwargs):
        raise RuntimeError("synthetic failure")

    monkeypatch.setattr(vk, "sync_lines", broken)
    html = index(admin_client)

    assert "This card could not be loaded (RuntimeError)" in card(html, "vk")
    assert stat(html, "outreach", "queries_pending") == "2"


# --- who sees what ----------------------------------------------------------------------------------


def test_staff_see_only_the_cards_of_the_apps_they_may_view(client, django_user_model, world):
    looker = staff_client(client, django_user_model, "vk_sync.view_vkcommunity")
    html = index(looker)

    assert [name for name in CARDS if card(html, name)] == ["vk"]
    assert 'data-community="4242"' in card(html, "vk")
    assert "<svg" not in card(html, "vk")  # joins and leaves need view_vkmembershipevent


def test_outreach_staff_see_their_parts_and_only_the_yandex_limits(client, django_user_model, world):
    looker = staff_client(client, django_user_model, "outreach.view_serpquery")
    html = index(looker)

    assert [name for name in CARDS if card(html, name)] == ["outreach", "limits"]
    assert stat(html, "outreach", "queries_pending") == "2"
    assert 'data-stat="messages_scheduled"' not in html and "data-mailbox" not in html
    assert 'data-key="yandex"' in card(html, "limits")
    assert 'data-key="tg:' not in html and 'data-key="vk:' not in html and "stray" not in html


def test_staff_without_permissions_see_no_cards(client, django_user_model, world):
    html = index(staff_client(client, django_user_model))

    assert not any(card(html, name) for name in CARDS)
    assert 'id="seeders-card"' not in html


# --- cost ---------------------------------------------------------------------------------------------


def more_of_everything(now):
    """A second helping of each area: the page must not run more queries for more rows."""
    for n in range(5):
        TelegramAccount.objects.create(session_name=f"extra-{n}", **SECRETS)
        VkCommunity.objects.create(id=5000 + n, name=f"extra club {n}", last_sync={"posts": {"result": "ok"}})
        SenderMailbox.objects.create(name=f"extra-{n}", host="127.0.0.1", from_address=f"x{n}@box.example.test")
        JobRun.objects.create(kind="vk-posts", target=f"club{n}", status="running")
        JobRun.objects.create(kind="vk-posts", target=f"club{n}", status="failed", finished_at=now)
        VkToken.objects.create(label=f"extra-{n}", kind=VkToken.Kind.USER, token="synthetic")


def test_the_number_of_queries_is_bounded_and_does_not_grow_with_the_data(
    admin_client, world, django_assert_max_num_queries
):
    index(admin_client)  # warm: the session, content types
    with CaptureQueriesContext(connection) as before:
        index(admin_client)
    more_of_everything(world)
    with django_assert_max_num_queries(30):
        html = index(admin_client)
    with CaptureQueriesContext(connection) as after:
        index(admin_client)

    assert len(after) == len(before)
    assert stat(html, "vk", "communities") == "6"


def test_the_dashboard_reads_the_day_in_the_outreach_timezone(admin_client, in_process_limiter, settings):
    settings.OUTREACH_TIMEZONE = "Asia/Vladivostok"  # UTC+10: its day starts at 14:00 UTC the day before
    box = SenderMailbox.objects.create(name="box", host="127.0.0.1", from_address="s@box.example.test", daily_cap=4)
    company = Company.objects.create(canonical_domain="tz.example.test")
    contact = Contact.objects.create(company=company, email="info@tz.example.test")
    window = window_from_settings()
    start, _ = window.day_bounds(window.local_date(timezone.now()))
    OutreachMessage.objects.create(company=company, contact=contact, status="sent", sent_at=start, mailbox=box)

    html = index(admin_client)

    assert start.astimezone(UTC).hour == 14
    assert stat(html, "outreach", "messages_sent_today") == "1"
    assert '<progress max="100" value="25">' in row(html, "outreach", "data-mailbox", "box")


def test_every_link_on_the_cards_opens_its_page(admin_client, world):
    html = index(admin_client)
    cards = html.split('id="dashboard"', 1)[1].split('id="seeders-card"', 1)[0]
    links = sorted(set(re.findall(r'href="([^"]+)"', cards)))

    assert len(links) > 20
    for link in links:
        response = admin_client.get(link.replace("&amp;", "&"))
        assert response.status_code == 200, link  # a filter the changelist rejects redirects with ?e=1
