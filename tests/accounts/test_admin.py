"""Accounts admin: countdowns, cooldown/disable actions with history, the join action, the links import page."""

from datetime import timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import JoinTarget, TelegramAccount
from accounts.services.starters import JOIN_KIND
from accounts.tasks import join_batch_task
from leadops.admin_tools import countdown
from leadops.models import JobRun
from tests.telegram_sources.test_telethon_gateway import synthetic_session  # the one test module importing Telethon

pytestmark = pytest.mark.django_db

ACCOUNTS_URL = reverse("admin:accounts_telegramaccount_changelist")
TARGETS_URL = reverse("admin:accounts_jointarget_changelist")
IMPORT_URL = reverse("admin:accounts_jointarget_import")
TELETHON = "telegram_sources.telethon_gateway.TelethonGateway"


def add_account(name="promo_1", **fields):
    secrets = {"api_id": "12345", "api_hash": "synthetic-hash", "string_session": "synthetic-session"}
    return TelegramAccount.objects.create(session_name=name, **{**secrets, **fields})


def add_targets(usernames, niche="cars"):
    return [JoinTarget.objects.create(link=f"https://t.me/{u}", username=f"@{u}", niche=niche) for u in usernames]


def act(client, url, action, objects, follow=False):
    data = {"action": action, "_selected_action": [o.pk for o in objects], "index": 0}
    return client.post(url, data, follow=follow)


def page(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


# --- accounts ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(hours=2, minutes=13), "in 2 h 13 min"),
        (timedelta(hours=2, minutes=12, seconds=59.5), "in 2 h 13 min"),  # rounded up: not back any earlier
        (timedelta(seconds=20), "in 1 min"),
        (timedelta(minutes=45), "in 45 min"),
        (timedelta(hours=3), "in 3 h"),
        (timedelta(days=1, hours=4, minutes=30), "in 1 d 5 h"),
    ],
)
def test_countdown(delta, text):
    assert countdown(delta) == text


def test_the_list_shows_when_a_cooling_down_account_comes_back(admin_client):
    add_account("cooling", status="cooldown", next_allowed_action_time=timezone.now() + timedelta(hours=2, minutes=13))
    add_account("back_already", status="cooldown", next_allowed_action_time=timezone.now() - timedelta(minutes=5))
    busy = add_account("busy", last_error="FloodWait 3600 s " + "x" * 100)
    joined = timezone.now() - timedelta(hours=1)
    for n, when in enumerate([joined, joined, timezone.now() - timedelta(days=2)]):
        JoinTarget.objects.create(
            link=f"@chat_{n:03d}", username=f"@chat_{n:03d}", niche="cars", assigned_account=busy, joined_at=when
        )

    response = admin_client.get(ACCOUNTS_URL)

    html = page(response)
    assert "in 2 h 13 min" in html
    rows = {a.session_name: a for a in response.context["cl"].result_list}
    model_admin = response.context["cl"].model_admin
    assert model_admin.comes_back(rows["back_already"]) == "—"
    assert model_admin.joins_last_24h(rows["busy"]) == 2
    assert model_admin.joins_last_24h(rows["cooling"]) == 0
    assert model_admin.last_error_short(rows["busy"]).endswith("…")
    assert "Joins in last 24 h" in html
    assert page(admin_client.get(ACCOUNTS_URL, {"status__exact": "cooldown"})).count('field-status">Cooldown<') == 2


def test_clear_cooldown_makes_the_account_active_and_writes_history(admin_client):
    cooling = add_account("cooling", status="cooldown", next_allowed_action_time=timezone.now() + timedelta(hours=2))
    banned = add_account("banned", status="banned")

    response = act(admin_client, ACCOUNTS_URL, "clear_cooldown", [cooling, banned], follow=True)

    cooling.refresh_from_db()
    assert (cooling.status, cooling.next_allowed_action_time) == ("active", None)
    banned.refresh_from_db()
    assert banned.status == "banned"  # a banned session is not a cooldown
    html = page(response)
    assert "Cooldown cleared on 1 account(s)" in html and "banned (banned)" in html
    entry = LogEntry.objects.get(object_id=str(cooling.pk))
    assert entry.user.username == "admin" and "Cooldown cleared (was cooldown until" in entry.get_change_message()


def test_clear_cooldown_warns_when_the_limiter_still_blocks_the_account(admin_client, clock):
    from leadops import ratelimit
    from telegram_sources.limits import limiter_key

    cooling = add_account(
        "cooling", status="flood_wait", next_allowed_action_time=timezone.now() + timedelta(minutes=9)
    )
    ratelimit.block(limiter_key("cooling"), 540)

    html = page(act(admin_client, ACCOUNTS_URL, "clear_cooldown", [cooling], follow=True))

    assert "Still blocked by Telegram&#x27;s own FloodWait in the rate limiter: cooling" in html


def test_disable_writes_history(admin_client):
    account = add_account()

    html = page(act(admin_client, ACCOUNTS_URL, "disable", [account], follow=True))

    account.refresh_from_db()
    assert account.status == "disabled"
    assert "1 account(s) disabled" in html
    assert LogEntry.objects.get(object_id=str(account.pk)).get_change_message() == "Disabled (admin action)"


def test_check_session_with_the_fake_gateway_says_what_it_checked(admin_client):
    account = add_account()

    html = page(act(admin_client, ACCOUNTS_URL, "check_session", [account], follow=True))

    assert "Account promo_1: credentials decrypt and are well-formed; FakeTelegramGateway (fake gateway)" in html
    assert "Not checked against Telegram" in html


def test_check_session_builds_the_telethon_client_without_connecting(admin_client, settings):
    settings.TELEGRAM_GATEWAY = TELETHON
    good = add_account("good", string_session=synthetic_session(), proxy_url="socks5://u:p@127.0.0.1:1080")
    bad = add_account("bad", string_session="not-a-session-at-all")
    no_number = add_account("no_number", api_id="12ab")

    response = act(admin_client, ACCOUNTS_URL, "check_session", [good, bad, no_number], follow=True)

    sent = [(m.level_tag, m.message) for m in response.context["messages"]]
    good_message = next(m for level, m in sent if level == "success")
    assert good_message.startswith("account good: credentials decrypt, api_id is a number")
    assert "TelethonGateway built, no connection made" in good_message
    assert ("error", "Telegram account 'bad': string_session is not a valid session") in sent
    assert ("error", "account no_number: api_id must be a whole positive number") in sent
    assert "not-a-session-at-all" not in page(response) and "12ab" not in page(response)


def test_the_add_form_checks_api_id_and_proxy_without_echoing_them(admin_client):
    url = reverse("admin:accounts_telegramaccount_add")
    form = {
        "session_name": "new_one",
        "status": "active",
        "api_id": "12x45",
        "api_hash": "typed-hash",
        "string_session": "typed-session",
        "proxy_url": "typeduser:typedpass@host:1080",
        "phone": "",
        "channels_joined_count": 0,
    }

    html = page(admin_client.post(url, form))

    assert "api_id must be a whole positive number" in html and "must be a socks5://" in html
    for typed in ("12x45", "typed-hash", "typed-session", "typedpass"):
        assert typed not in html
    assert not TelegramAccount.objects.exists()

    response = admin_client.post(url, {**form, "api_id": " 12345 ", "proxy_url": "socks5://u:p@10.0.0.2:1080"})
    assert response.status_code == 302
    account = TelegramAccount.objects.get()
    assert (account.api_id, account.proxy_url) == ("12345", "socks5://u:p@10.0.0.2:1080")


# --- join targets --------------------------------------------------------------------------------


def test_join_selected_joins_exactly_those_and_shows_the_job(
    admin_client, fake_world, django_capture_on_commit_callbacks
):
    add_account()
    first, second, third = add_targets(["chat_000", "chat_001", "chat_002"])

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = act(admin_client, TARGETS_URL, "join_selected", [third, second])

    job = JobRun.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("admin:leadops_jobrun_change", args=[job.pk])
    assert (job.kind, job.target, job.triggered_by.username) == (JOIN_KIND, "cars", "admin")
    for callback in callbacks:
        callback()
    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED, job.error
    statuses = dict(JoinTarget.objects.values_list("username", "status"))
    assert statuses == {"@chat_000": "new", "@chat_001": "joined", "@chat_002": "joined"}


def test_join_selected_enqueues_names_and_ids_only(admin_client, monkeypatch, django_capture_on_commit_callbacks):
    calls = []
    monkeypatch.setattr(join_batch_task, "apply_async", lambda **options: calls.append(options))
    cars = add_targets([f"car_chat_{n}" for n in range(12)])
    boats = add_targets(["boat_chat"], niche="boats")
    joined = JoinTarget.objects.create(link="@done_chat", username="@done_chat", niche="cars", status="joined")

    with django_capture_on_commit_callbacks(execute=True):
        response = act(admin_client, TARGETS_URL, "join_selected", [*cars, *boats, joined], follow=True)

    jobs = {job.target: job for job in JobRun.objects.all()}
    assert sorted(call["kwargs"]["niche"] for call in calls) == ["boats", "cars"]
    by_niche = {call["kwargs"]["niche"]: call["kwargs"] for call in calls}
    assert by_niche["cars"] == {
        "niche": "cars",
        "batch_size": 10,
        "target_ids": sorted(t.pk for t in cars[:10]),  # the oldest ten
        "job_id": jobs["cars"].pk,
    }
    assert by_niche["boats"] == {
        "niche": "boats",
        "batch_size": 1,
        "target_ids": [boats[0].pk],
        "job_id": jobs["boats"].pk,
    }
    html = page(response)
    assert "Started 2 join job(s)" in html
    assert "At most 10 groups per batch" in html and "cars: 10 of 12" in html
    assert "1 selected target(s) are not new: skipped" in html


def test_join_selected_leaves_a_niche_whose_job_is_active(admin_client, django_capture_on_commit_callbacks):
    (target,) = add_targets(["chat_000"])
    active = JobRun.objects.create(kind=JOIN_KIND, target="cars", status=JobRun.Status.RUNNING)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        html = page(act(admin_client, TARGETS_URL, "join_selected", [target], follow=True))

    assert JobRun.objects.get() == active and not callbacks
    assert "already queued or running" in html and reverse("admin:leadops_jobrun_change", args=[active.pk]) in html


def test_the_assigned_account_is_never_editable(admin_client):
    account, other = add_account("promo_1"), add_account("promo_2")
    target = JoinTarget.objects.create(
        link="@chat_000", username="@chat_000", niche="cars", status="joined", assigned_account=account
    )
    url = reverse("admin:accounts_jointarget_change", args=[target.pk])

    html = page(admin_client.get(url))
    assert 'name="assigned_account"' not in html and "promo_1" in html
    response = admin_client.post(url, {"niche": "cars", "title": "Renamed", "assigned_account": other.pk})

    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.title, target.assigned_account, target.status) == ("Renamed", account, "joined")


def test_the_targets_list_shows_warm_up_and_filters(admin_client):
    account = add_account()
    now = timezone.now()
    JoinTarget.objects.create(
        link="@chat_000",
        username="@chat_000",
        niche="cars",
        status="joined",
        assigned_account=account,
        joined_at=now,
        warmup_ends_at=now + timedelta(hours=5),
        can_post=True,
    )
    add_targets(["chat_001"], niche="boats")

    html = page(admin_client.get(TARGETS_URL))
    assert "Warm-up until" in html and ">in 5 h</span>)" in html
    assert "Import links" in html and "Add join target" not in html
    assert [t.username for t in admin_client.get(TARGETS_URL, {"niche": "boats"}).context["cl"].result_list] == [
        "@chat_001"
    ]
    searched = admin_client.get(TARGETS_URL, {"q": "chat_000"}).context["cl"].result_list
    assert [t.username for t in searched] == ["@chat_000"]
    by_account = admin_client.get(TARGETS_URL, {"assigned_account__id__exact": account.pk}).context["cl"].result_list
    assert [t.username for t in by_account] == ["@chat_000"]


def test_the_add_button_leads_to_the_import_page(admin_client):
    response = admin_client.get(reverse("admin:accounts_jointarget_add"))
    assert response.status_code == 302 and response["Location"] == IMPORT_URL


def test_importing_pasted_links(admin_client):
    add_targets(["old_group"])

    response = admin_client.post(IMPORT_URL, {"niche": "cars", "links": "@old_group\nhttps://t.me/new_group\n"})

    assert response.status_code == 302 and response["Location"] == f"{TARGETS_URL}?niche=cars"
    assert "1 added, 1 already there" in page(admin_client.get(response["Location"]))
    assert set(JoinTarget.objects.values_list("username", flat=True)) == {"@old_group", "@new_group"}


def test_an_import_with_bad_lines_lists_them_and_writes_nothing(admin_client):
    html = page(admin_client.post(IMPORT_URL, {"niche": "cars", "links": "@good_group\nnot a link\n\n@x"}))

    assert "Nothing was added: 2 lines to fix" in html
    assert "line 2: not a Telegram group link or username" in html and "line 4:" in html
    assert not JoinTarget.objects.exists()


def test_importing_a_csv(admin_client):
    upload = SimpleUploadedFile("targets.csv", b"link,niche,title\n@car_chat,,Cars\nt.me/+AbCdEfGhIjKl,boats,\n")

    response = admin_client.post(IMPORT_URL, {"niche": "cars", "links": "", "csv_file": upload})

    assert response.status_code == 302 and response["Location"] == TARGETS_URL
    assert sorted(JoinTarget.objects.values_list("niche", "username", "invite_hash", "title")) == [
        ("boats", "", "AbCdEfGhIjKl", ""),
        ("cars", "@car_chat", "", "Cars"),
    ]


def test_the_import_form_wants_links_or_a_file_and_a_niche_for_links(admin_client):
    assert "Paste links or choose a CSV file" in page(admin_client.post(IMPORT_URL, {"niche": "cars", "links": ""}))
    assert "Pasted links need a niche" in page(admin_client.post(IMPORT_URL, {"niche": "", "links": "@good_group"}))
    assert 'name="links"' in page(admin_client.get(IMPORT_URL))
    assert not JoinTarget.objects.exists()
