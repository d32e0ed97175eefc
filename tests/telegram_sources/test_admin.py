"""Telegram admin: the export action starts real jobs; the big tables stay cheap to browse."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from leadops.admin_tools import EstimatedCountPaginator
from leadops.models import JobRun
from telegram_sources.fake_gateway import FakeTelegramGateway
from telegram_sources.fake_world import demo_world
from telegram_sources.models import ExportCheckpoint, Membership, TelegramGroup, TelegramUser

pytestmark = pytest.mark.django_db

MEETUP_1 = -1001000000011  # 400 members in the demo world
GROUPS_URL = reverse("admin:telegram_sources_telegramgroup_changelist")
USERS_URL = reverse("admin:telegram_sources_telegramuser_changelist")
MEMBERSHIPS_URL = reverse("admin:telegram_sources_membership_changelist")


@pytest.fixture
def world(settings, clock):
    settings.TELEGRAM_RPS = 1000
    FakeTelegramGateway.use_world(demo_world())
    yield FakeTelegramGateway.current_world()
    FakeTelegramGateway.use_world(None)


def export_action(client, *groups):
    return client.post(
        GROUPS_URL, {"action": "export_members", "_selected_action": [group.pk for group in groups], "index": 0}
    )


def make_user(telegram_id, username="", first_name="", **fields) -> TelegramUser:
    return TelegramUser.objects.create(telegram_id=telegram_id, username=username, first_name=first_name, **fields)


def listed(response) -> set:
    assert response.status_code == 200
    return {user.telegram_id for user in response.context["cl"].result_list}


def test_it_exports_one_group_after_commit_and_shows_its_job(admin_client, world, django_capture_on_commit_callbacks):
    group = TelegramGroup.objects.create(telegram_id=MEETUP_1, kind=TelegramGroup.Kind.EVENT)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = export_action(admin_client, group)
    job = JobRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:leadops_jobrun_change", args=[job.pk])
    assert (job.kind, job.status, job.triggered_by.username) == ("tg-export", JobRun.Status.QUEUED, "admin")
    assert not Membership.objects.exists()  # nothing ran before the commit

    for callback in callbacks:  # the commit: the eager task runs the export against the fake Telegram
        callback()

    job.refresh_from_db()
    group.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert group.memberships.count() == 400
    assert group.title == "Meetup #1 (offline)"
    assert group.last_export_coverage == 1.0
    page = admin_client.get(response["Location"]).content.decode()
    assert "succeeded" in page


def test_it_starts_one_job_per_group_and_lists_them(admin_client, django_capture_on_commit_callbacks):
    first = TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1")
    second = TelegramGroup.objects.create(username="demo_meetup_2", title="Meetup #2")

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = export_action(admin_client, first, second)

    jobs = JobRun.objects.order_by("pk")
    assert response.status_code == 302  # to the list of exactly those jobs
    assert response["Location"] == f"{reverse('admin:leadops_jobrun_changelist')}?id__in={jobs[0].pk},{jobs[1].pk}"
    assert [(job.kind, job.target) for job in jobs] == [("tg-export", "Meetup #1"), ("tg-export", "Meetup #2")]
    assert len(callbacks) == 2
    html = admin_client.get(response["Location"]).content.decode()
    assert "Started 2 export job(s)" in html
    for job in jobs:
        assert reverse("admin:leadops_jobrun_change", args=[job.pk]) in html


def test_it_shows_groups_with_their_export_coverage(admin_client):
    TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1", last_export_coverage=0.873)

    html = admin_client.get(GROUPS_URL).content.decode()
    assert "Meetup #1" in html and "87%" in html
    assert "Refresh reference now" in html

    found = admin_client.get(GROUPS_URL, {"q": str(MEETUP_1)}).context["cl"].result_list
    assert [group.title for group in found] == ["Meetup #1"]


def test_it_starts_a_reference_refresh_from_the_groups_page(admin_client, settings, django_capture_on_commit_callbacks):
    settings.REFERENCE_GROUP = "-1001000000001"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = admin_client.post(reverse("admin:telegram_sources_telegramgroup_refresh_reference"))

    job = JobRun.objects.get()
    assert job.kind == "tg-refresh-reference"
    assert response["Location"] == reverse("admin:leadops_jobrun_change", args=[job.pk])
    assert len(callbacks) == 1
    assert TelegramGroup.objects.get(telegram_id=-1001000000001).kind == TelegramGroup.Kind.REFERENCE


def test_it_says_why_it_cannot_refresh_without_a_reference_group(admin_client, settings):
    settings.REFERENCE_GROUP = ""

    response = admin_client.post(reverse("admin:telegram_sources_telegramgroup_refresh_reference"), follow=True)

    assert "REFERENCE_GROUP is not set" in response.content.decode()
    assert not JobRun.objects.exists()


def test_it_searches_a_numeric_term_as_the_telegram_id_only(admin_client):
    make_user(1000000042, "alice")
    make_user(42, "bob")
    make_user(7, "user_1000000042")  # would match an icontains search on the username

    assert listed(admin_client.get(USERS_URL, {"q": "1000000042"})) == {1000000042}
    assert listed(admin_client.get(USERS_URL, {"q": " 42 "})) == {42}
    assert listed(admin_client.get(USERS_URL, {"q": "99999999999999999999999"})) == set()


def test_it_searches_by_username_and_name(admin_client):
    make_user(1, "alice_w", "Alice")
    make_user(2, "", "Мария", last_name="Иванова")
    make_user(3, "bob", "Bob")

    assert listed(admin_client.get(USERS_URL, {"q": "@ALICE"})) == {1}
    assert listed(admin_client.get(USERS_URL, {"q": "Иванова"})) == {2}
    assert listed(admin_client.get(USERS_URL, {"q": "bo"})) == {3}


def test_it_filters_users_by_username_presence_and_reference(admin_client):
    make_user(1, "named")
    make_user(2, "", "Nameless")
    make_user(3, "ref", in_reference=True)

    assert listed(admin_client.get(USERS_URL, {"has_username": "yes"})) == {1, 3}
    assert listed(admin_client.get(USERS_URL, {"has_username": "no"})) == {2}
    assert listed(admin_client.get(USERS_URL, {"in_reference__exact": "1"})) == {3}
    assert listed(admin_client.get(USERS_URL, {"in_reference__exact": "0", "has_username": "yes"})) == {1}


def test_it_never_counts_the_whole_users_table(admin_client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 5)
    TelegramUser.objects.bulk_create(TelegramUser(telegram_id=n, username=f"u{n}") for n in range(1, 13))

    for params in ({}, {"q": "u"}, {"has_username": "yes"}):
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(USERS_URL, {**params, "p": 1})
        assert response.status_code == 200
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "telegramuser" in q["sql"]]
        assert counts, "the paginator counts something"
        for sql in counts:
            assert "LIMIT 6" in sql.upper(), sql  # bounded: cap + 1 rows at most
        cl = response.context["cl"]
        assert cl.result_count == 6
        assert cl.paginator.count_label == "more than 5"
        assert "more than 5" in response.content.decode()


def test_it_counts_exactly_below_the_cap(admin_client):
    make_user(1, "a")
    make_user(2, "b")

    response = admin_client.get(USERS_URL)

    assert response.context["cl"].result_count == 2
    assert response.context["cl"].paginator.count_label is None
    assert "2 Telegram users" in response.content.decode()


def test_the_user_page_is_read_only_and_lists_memberships(admin_client):
    user = make_user(1000000042, "alice")
    group = TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1")
    seen = {"first_seen_at": "2025-01-01T00:00Z", "last_seen_at": "2025-02-01T00:00Z"}
    Membership.objects.create(group=group, user=user, **seen)
    url = reverse("admin:telegram_sources_telegramuser_change", args=[user.pk])

    html = admin_client.get(url).content.decode()
    assert "Meetup #1" in html
    assert f"user__id__exact={user.pk}" in html
    assert admin_client.post(url, {"username": "mallory"}).status_code == 403
    assert admin_client.get(reverse("admin:telegram_sources_telegramuser_add")).status_code == 403


def test_memberships_are_read_only(admin_client):
    group = TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1")
    user = make_user(1, "alice")
    membership = Membership.objects.create(
        group=group, user=user, first_seen_at="2025-01-01T00:00Z", last_seen_at="2025-02-01T00:00Z"
    )
    change_url = reverse("admin:telegram_sources_membership_change", args=[membership.pk])

    assert admin_client.get(reverse("admin:telegram_sources_membership_add")).status_code == 403
    assert admin_client.post(change_url, {"left_at_0": "2025-03-01", "left_at_1": "00:00"}).status_code == 403
    assert admin_client.get(change_url).status_code == 200  # viewing is fine
    membership.refresh_from_db()
    assert membership.left_at is None


def test_it_lists_memberships_still_current_or_left(admin_client):
    group = TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1")
    stays, leaves = make_user(1, "stays"), make_user(2, "leaves")
    seen = {"first_seen_at": "2025-01-01T00:00Z", "last_seen_at": "2025-02-01T00:00Z"}
    Membership.objects.create(group=group, user=stays, **seen)
    Membership.objects.create(group=group, user=leaves, left_at="2025-03-01T00:00Z", **seen)

    def users(params):
        response = admin_client.get(MEMBERSHIPS_URL, params)
        assert response.status_code == 200
        return {m.user.username for m in response.context["cl"].result_list}

    assert users({"still_member": "yes"}) == {"stays"}
    assert users({"still_member": "no"}) == {"leaves"}
    assert users({"user__id__exact": leaves.pk}) == {"leaves"}
    assert users({"group__id__exact": group.pk}) == {"stays", "leaves"}


def test_unfinished_exports_are_shown_read_only(admin_client):
    group = TelegramGroup.objects.create(telegram_id=MEETUP_1, title="Meetup #1")
    ExportCheckpoint.objects.create(
        group=group, run_started_at="2025-01-01T00:00Z", phase="search", offset=400, pending_queries=["a", "b"]
    )

    html = admin_client.get(reverse("admin:telegram_sources_exportcheckpoint_changelist")).content.decode()
    assert "Meetup #1" in html and "search" in html
    assert admin_client.get(reverse("admin:telegram_sources_exportcheckpoint_add")).status_code == 403


@pytest.mark.postgres
def test_it_pages_an_unfiltered_big_table_by_the_planner_estimate(admin_client, monkeypatch):
    monkeypatch.setattr(EstimatedCountPaginator, "cap", 5)
    TelegramUser.objects.bulk_create(TelegramUser(telegram_id=n, username=f"u{n}") for n in range(1, 13))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE telegram_sources_telegramuser")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(USERS_URL)

    assert response.context["cl"].paginator.count_label == "about 12"
    assert "about 12 Telegram users" in response.content.decode()
    assert any("reltuples" in q["sql"] for q in queries)
    filtered = admin_client.get(USERS_URL, {"has_username": "yes"})
    assert filtered.context["cl"].paginator.count_label == "more than 5"  # a filter is never estimated
