"""The VK community report: members, joins and leaves per day, gender, the partial reference match, top users.

Synthetic VK users of one community:

    user  member  events                       gender        short name      interactions here
    v1    yes     -                            male          anna_example    2 likes, 1 comment
    v2    yes     -                            female        id2 (default)   1 like, 1 repost
    v3    yes     joined 2 d ago               not computed  -               (1 like elsewhere)
    v4    left    joined 20 d ago, left 2 d    male          boris_example   1 comment

The reference snapshot (Telegram users flagged in_reference): Anna_Example, id2, and one without a username.
"""

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leadops.reports import parse_csv
from telegram_sources.models import TelegramUser
from tests.leadops.report_pages import page_rows, unquote_formula
from vk_sync.models import VkCommunity, VkInteraction, VkMembershipEvent, VkPost, VkSubscription, VkUser
from vk_sync.reports import GENDER_SPLIT, OVERLAP_SPLIT, TOP_COLUMNS, TOP_TABLE, community_report

pytestmark = pytest.mark.django_db


def day(days_ago: int) -> date:
    return timezone.localdate() - timedelta(days=days_ago)


def at(days_ago: int) -> datetime:
    return timezone.make_aware(datetime.combine(day(days_ago), time(12)))


@pytest.fixture
def community():
    community = VkCommunity.objects.create(id=77, screen_name="synthetic_club", name="Synthetic club", members_count=3)
    elsewhere = VkCommunity.objects.create(id=78, name="Elsewhere")
    users = {
        "v1": VkUser.objects.create(id=1, first_name="Anna", domain="anna_example", gender="male"),
        "v2": VkUser.objects.create(id=2, first_name="Vera", domain="id2", gender="female"),
        "v3": VkUser.objects.create(id=3, first_name="Sasha", domain="", gender=""),
        "v4": VkUser.objects.create(id=4, first_name="Boris", domain="boris_example", gender="male"),
    }
    for name in ("v1", "v2", "v3"):
        VkSubscription.objects.create(community=community, user=users[name], first_joined_at=at(30))
    VkSubscription.objects.create(
        community=community, user=users["v4"], is_member=False, first_joined_at=at(20), left_at=at(2)
    )
    for user, kind, days_ago in [("v3", "join", 2), ("v4", "join", 20), ("v4", "leave", 2)]:
        VkMembershipEvent.objects.create(community=community, user=users[user], kind=kind, at=at(days_ago))
    first, second = (VkPost.objects.create(community=community, post_id=n, date=at(5)) for n in (1, 2))
    other = VkPost.objects.create(community=elsewhere, post_id=1, date=at(5))
    for user, post, kind, comment in [
        ("v1", first, "like", 0),
        ("v1", first, "comment", 11),
        ("v1", second, "like", 0),
        ("v2", first, "like", 0),
        ("v2", second, "repost", 0),
        ("v3", other, "like", 0),
        ("v4", second, "comment", 12),
    ]:
        VkInteraction.objects.create(post=post, user=users[user], kind=kind, comment_id=comment)
    TelegramUser.objects.create(telegram_id=1, username="Anna_Example", in_reference=True)
    TelegramUser.objects.create(telegram_id=2, username="id2", in_reference=True)
    TelegramUser.objects.create(telegram_id=3, username="", in_reference=True)
    TelegramUser.objects.create(telegram_id=4, username="boris_example", in_reference=False)
    return community


def metrics(report) -> dict:
    return dict(report.metrics)


def test_it_counts_members_joins_and_leaves_per_day(community):
    report = community_report(community=community)

    assert metrics(report)["Members now"] == 3
    assert {d: n for d, n in report.series["joins"] if n} == {day(20): 1, day(2): 1}
    assert {d: n for d, n in report.series["leaves"] if n} == {day(2): 1}
    assert len(report.series["joins"]) == 90
    assert metrics(report)["Joins in the last 90 days"] == 2
    assert metrics(report)["Leaves in the last 90 days"] == 1


def test_the_member_line_walks_back_from_todays_count(community):
    members = dict(community_report(community=community).series["members"])

    assert members[day(0)] == 3
    assert members[day(3)] == 3  # v4 still in, v3 not yet
    assert members[day(20)] == 3
    assert members[day(21)] == 2  # v1 and v2


def test_it_splits_current_members_by_gender(community):
    split = dict(community_report(community=community).splits[GENDER_SPLIT])

    assert split == {"male": 1, "female": 1, "unknown": 0, "not computed": 1}


def test_the_reference_overlap_matches_chosen_short_names_only_and_says_it_is_partial(community):
    report = community_report(community=community)

    # anna_example matches Anna_Example; id2 is VK's default name and never matches; v4 left the community
    assert dict(report.splits[OVERLAP_SPLIT]) == {
        "in both": 1,
        "only in this community": 2,
        "only in the reference": 2,
    }
    assert metrics(report)["Jaccard index with the reference (partial)"] == pytest.approx(1 / 5)
    assert any(note.startswith("Partial match") for note in report.notes)


def test_without_a_reference_snapshot_it_says_there_is_no_reference_data(community):
    TelegramUser.objects.update(in_reference=False)

    report = community_report(community=community)

    assert metrics(report)["Overlap with the reference"] == "no reference data"
    assert OVERLAP_SPLIT not in report.splits


def test_top_users_are_ranked_by_interactions_with_this_communitys_posts(community):
    columns, rows = community_report(community=community).tables[TOP_TABLE]

    assert columns == TOP_COLUMNS
    assert [row[:1] + row[4:] for row in rows] == [
        [1, 2, 1, 0, 3],  # vk_id, likes, comments, reposts, total
        [2, 1, 0, 1, 2],
        [4, 0, 1, 0, 1],
    ]
    assert rows[0][3] == "anna_example"


def test_the_admin_page_and_its_csv_show_the_same_numbers(community, client, admin_client_user):
    client.force_login(admin_client_user)
    url = reverse("admin:vk_sync_vkcommunity_report", args=[community.pk])

    page = client.get(f"{url}?format=html")
    download = client.get(f"{url}?format=csv")

    assert page.status_code == 200 and download.status_code == 200
    shown = {row for row in page_rows(page.content.decode()) if row[2] != "generated_at"}
    rows = {(*row[:4], unquote_formula(row[4])) for row in parse_csv(download.content.decode())}
    assert shown == {row for row in rows if row[2] != "generated_at"}
    assert "Partial match" in page.content.decode()


def test_the_community_page_links_to_its_report(community, client, admin_client_user):
    client.force_login(admin_client_user)

    page = client.get(reverse("admin:vk_sync_vkcommunity_change", args=[community.pk])).content.decode()

    assert reverse("admin:vk_sync_vkcommunity_report", args=[community.pk]) + "?format=html" in page


def test_top_users_count_every_interaction_whatever_its_date(community):
    VkInteraction.objects.filter(kind="like").update(at=None)
    VkInteraction.objects.filter(kind="comment").update(at=datetime(2020, 1, 1, tzinfo=UTC))

    _columns, rows = community_report(community=community).tables[TOP_TABLE]

    assert rows[0][-1] == 3
