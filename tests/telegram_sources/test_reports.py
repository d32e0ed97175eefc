"""The Telegram group report: members, joins and leaves per day, gender split, reference overlap, top members.

Synthetic users in one group, dated relative to today:

    user      joined     left      gender        offline  in reference
    u1        10 d ago   -         male          5 (Jan)  yes
    u2        10 d ago   -         female        5 (Feb)  no
    u3         3 d ago   -         not computed  9        no
    u4        10 d ago   3 d ago   male          50       no
    u5       200 d ago   -         unknown       0        yes
    a bot      3 d ago   -         male          100      no
    u6        (another group)                            yes
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from leadops.reports import parse_csv
from telegram_sources.models import Membership, TelegramGroup, TelegramUser
from telegram_sources.reports import GENDER_SPLIT, OVERLAP_SPLIT, TOP_TABLE, group_report
from tests.leadops.report_pages import page_rows, unquote_formula

pytestmark = pytest.mark.django_db


def day(days_ago: int) -> date:
    return timezone.localdate() - timedelta(days=days_ago)


def at(days_ago: int) -> datetime:
    return timezone.make_aware(datetime.combine(day(days_ago), time(12)))


@pytest.fixture
def group():
    group = TelegramGroup.objects.create(telegram_id=-100500, title="Synthetic meetup", username="synthetic_meetup")
    other = TelegramGroup.objects.create(telegram_id=-100600, title="Other group")
    people = {
        "u1": dict(gender="male", offline_cnt=5, last_offline_at=datetime(2024, 1, 10, tzinfo=UTC), in_reference=True),
        "u2": dict(gender="female", offline_cnt=5, last_offline_at=datetime(2024, 2, 10, tzinfo=UTC)),
        "u3": dict(gender="", offline_cnt=9),
        "u4": dict(gender="male", offline_cnt=50),
        "u5": dict(gender="unknown", offline_cnt=0, in_reference=True),
        "bot": dict(gender="male", offline_cnt=100, is_bot=True),
        "u6": dict(gender="female", offline_cnt=1, in_reference=True),
    }
    users = {
        name: TelegramUser.objects.create(telegram_id=7000 + n, username=f"{name}_example", first_name=name, **fields)
        for n, (name, fields) in enumerate(people.items())
    }
    for name, joined, left in [("u1", 10, None), ("u2", 10, None), ("u3", 3, None), ("u4", 10, 3), ("u5", 200, None)]:
        Membership.objects.create(
            group=group,
            user=users[name],
            first_seen_at=at(joined),
            last_seen_at=at(left or 0),
            left_at=at(left) if left is not None else None,
        )
    Membership.objects.create(group=group, user=users["bot"], first_seen_at=at(3), last_seen_at=at(0))
    Membership.objects.create(group=other, user=users["u6"], first_seen_at=at(1), last_seen_at=at(0))
    return group


def metrics(report) -> dict:
    return dict(report.metrics)


def test_it_counts_current_members_without_bots_or_leavers(group):
    report = group_report(group=group)

    assert metrics(report)["Members now"] == 4
    assert report.title == "Telegram group report: Synthetic meetup"
    assert report.period == f"{day(89).isoformat()}..{day(0).isoformat()}"


def test_it_counts_joins_and_leaves_per_day_over_the_last_90_days(group):
    report = group_report(group=group)

    joins, leaves = dict(report.series["joins"]), dict(report.series["leaves"])
    assert len(joins) == len(leaves) == 90
    assert {d: n for d, n in joins.items() if n} == {day(10): 3, day(3): 1}  # the bot and u5 (200 d) are not
    assert {d: n for d, n in leaves.items() if n} == {day(3): 1}
    assert metrics(report)["Joins in the last 90 days"] == 4
    assert metrics(report)["Leaves in the last 90 days"] == 1


def test_the_member_line_ends_at_todays_count_and_walks_back_through_joins_and_leaves(group):
    members = dict(group_report(group=group).series["members"])

    assert members[day(0)] == 4
    assert members[day(3)] == 4  # u3 joined as u4 left
    assert members[day(4)] == 4  # u1, u2, u4, u5
    assert members[day(10)] == 4
    assert members[day(11)] == 1  # only u5, there since long before
    assert members[day(89)] == 1


def test_it_splits_current_members_by_gender_with_the_ones_not_computed_yet(group):
    split = dict(group_report(group=group).splits[GENDER_SPLIT])

    assert split == {"male": 1, "female": 1, "unknown": 1, "not computed": 1}


def test_it_compares_the_members_with_the_reference_snapshot(group):
    report = group_report(group=group)

    # members {u1, u2, u3, u5}, reference {u1, u5, u6}
    assert dict(report.splits[OVERLAP_SPLIT]) == {"in both": 2, "only in this group": 2, "only in the reference": 1}
    assert metrics(report)["Jaccard index with the reference"] == pytest.approx(2 / 5)
    assert metrics(report)["Reference snapshot members"] == 3


def test_without_a_reference_snapshot_it_says_there_is_no_reference_data(group):
    TelegramUser.objects.update(in_reference=False)

    report = group_report(group=group)

    assert metrics(report)["Overlap with the reference"] == "no reference data"
    assert OVERLAP_SPLIT not in report.splits
    assert any("No reference snapshot" in note for note in report.notes)


def test_it_lists_current_members_by_offline_events_then_the_latest_one(group):
    columns, rows = group_report(group=group).tables[TOP_TABLE]

    usernames = [row[columns.index("username")] for row in rows]
    assert usernames == ["u3_example", "u2_example", "u1_example", "u5_example"]  # no leaver, no bot
    assert [row[columns.index("offline_cnt")] for row in rows] == [9, 5, 5, 0]
    assert rows[2][columns.index("in_reference")] is True


def test_it_lists_at_most_20(group):
    for n in range(25):
        user = TelegramUser.objects.create(telegram_id=9000 + n, offline_cnt=100 + n)
        Membership.objects.create(group=group, user=user, first_seen_at=at(1), last_seen_at=at(0))

    _columns, rows = group_report(group=group).tables[TOP_TABLE]

    assert len(rows) == 20
    assert rows[0][0] == 9024


# --- the admin views -------------------------------------------------------------------------------


def report_url(group, fmt):
    return reverse("admin:telegram_sources_telegramgroup_report", args=[group.pk]) + f"?format={fmt}"


def test_the_admin_page_and_its_csv_show_the_same_numbers(group, client, admin_client_user):
    client.force_login(admin_client_user)

    page = client.get(report_url(group, "html"))
    download = client.get(report_url(group, "csv"))

    assert page.status_code == 200 and download.status_code == 200
    assert "default-src 'none'" in page["Content-Security-Policy"]
    assert download["Content-Disposition"].startswith('attachment; filename="telegram-')
    shown = {row for row in page_rows(page.content.decode()) if row[2] != "generated_at"}
    rows = {(*row[:4], unquote_formula(row[4])) for row in parse_csv(download.content.decode())}
    assert shown == {row for row in rows if row[2] != "generated_at"}
    assert ("metric", "", "Members now", "", "4") in shown


def test_the_json_download_has_the_same_members_count(group, client, admin_client_user):
    client.force_login(admin_client_user)

    data = client.get(report_url(group, "json")).json()

    assert {"label": "Members now", "value": 4} in data["metrics"]


def test_an_unknown_format_is_refused(group, client, admin_client_user):
    client.force_login(admin_client_user)

    assert client.get(report_url(group, "pdf")).status_code == 400


def test_the_group_page_links_to_its_report(group, client, admin_client_user):
    client.force_login(admin_client_user)

    page = client.get(reverse("admin:telegram_sources_telegramgroup_change", args=[group.pk])).content.decode()

    assert report_url(group, "html") in page and report_url(group, "csv") in page


def test_staff_without_the_view_permission_get_no_report(group, client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_vkcommunity"))
    client.force_login(clerk)

    assert client.get(report_url(group, "csv")).status_code == 403


def test_anonymous_visitors_are_sent_to_the_login(group, client):
    response = client.get(report_url(group, "csv"))

    assert response.status_code == 302 and "/admin/login/" in response["Location"]
