"""Group comparison: the one-query counts equal Python sets; CSV lists match the counts; VK is matched by name.

Bots do not count as members (as in `current_member_rows`): a bot in both groups
is no shared audience. Members who left (`left_at` set) do not count either.
"""

import csv
import io
import random
from datetime import UTC, datetime

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from telegram_sources import comparison
from telegram_sources.comparison import compare_groups, compare_with_reference, member_rows, reference_rows
from telegram_sources.models import Membership, TelegramGroup, TelegramUser
from vk_sync.comparison import NOTE, compare_vk_with_telegram, vk_member_rows
from vk_sync.models import VkCommunity, VkSubscription, VkUser

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
REFERENCE_ID = -1002000000001
GROUPS_URL = reverse("admin:telegram_sources_telegramgroup_changelist")
COMPARE_URL = reverse("admin:telegram_sources_telegramgroup_compare")
CSV_URL = reverse("admin:telegram_sources_telegramgroup_compare_csv")


def make_group(telegram_id, title, kind=TelegramGroup.Kind.EVENT) -> TelegramGroup:
    return TelegramGroup.objects.create(telegram_id=telegram_id, title=title, kind=kind)


def make_users(count, *, start=1000, bots=()) -> list[TelegramUser]:
    users = [
        TelegramUser(
            telegram_id=start + n, username=f"user_{start + n}", first_name=f"First{n}", is_bot=(start + n) in bots
        )
        for n in range(count)
    ]
    return TelegramUser.objects.bulk_create(users)


def join(group, users, *, left=False):
    Membership.objects.bulk_create(
        Membership(group=group, user=user, first_seen_at=T0, last_seen_at=T0, left_at=T0 if left else None)
        for user in users
    )


def python_sets(group) -> set[int]:
    """The members as the old scripts computed them: load everything, filter in Python."""
    rows = Membership.objects.filter(group=group).values_list("user__telegram_id", "left_at", "user__is_bot")
    return {tid for tid, left_at, is_bot in rows if left_at is None and not is_bot}


def random_groups(seed, *, users=3000):
    """Two groups drawn at random from one pool: overlapping, with leavers and bots on both sides."""
    rng = random.Random(seed)
    pool = make_users(users, bots=set(rng.sample(range(1000, 1000 + users), users // 50)))
    a, b = make_group(-1001000000001, "A"), make_group(-1001000000002, "B")
    for group, share in ((a, rng.uniform(0.2, 0.8)), (b, rng.uniform(0.2, 0.8))):
        members = [user for user in pool if rng.random() < share]
        leavers = set(rng.sample(range(len(members)), len(members) // 10))
        join(group, [user for n, user in enumerate(members) if n not in leavers])
        join(group, [user for n, user in enumerate(members) if n in leavers], left=True)
    return a, b


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_equals_a_python_set_computation(seed):
    a, b = random_groups(seed)
    set_a, set_b = python_sets(a), python_sets(b)

    with CaptureQueriesContext(connection) as queries:
        result = compare_groups(a=a, b=b)

    assert len(queries) == 1
    assert (result.a_count, result.b_count) == (len(set_a), len(set_b))
    assert result.overlap == len(set_a & set_b)
    assert (result.only_a, result.only_b) == (len(set_a - set_b), len(set_b - set_a))
    assert result.jaccard == pytest.approx(len(set_a & set_b) / len(set_a | set_b))
    assert (result.a_label, result.b_label, result.partial) == ("A", "B", False)


def test_it_does_not_count_members_who_left_or_bots():
    a, b = make_group(-1001, "A"), make_group(-1002, "B")
    stays, leaves, bot = make_users(3, bots={1002})
    join(a, [stays, bot])
    join(b, [stays, bot])
    join(b, [leaves], left=True)
    join(a, [leaves])

    result = compare_groups(a=a, b=b)

    assert (result.a_count, result.b_count, result.overlap, result.only_a, result.only_b) == (2, 1, 1, 1, 0)


def test_it_gives_a_jaccard_of_zero_for_two_empty_groups():
    result = compare_groups(a=make_group(-1001, "A"), b=make_group(-1002, "B"))

    assert (result.a_count, result.b_count, result.overlap, result.only_a, result.only_b) == (0, 0, 0, 0, 0)
    assert result.jaccard == 0.0


def test_it_gives_a_jaccard_of_one_for_a_group_against_itself():
    a = make_group(-1001, "A")
    join(a, make_users(10))

    result = compare_groups(a=a, b=a)

    assert (result.overlap, result.only_a, result.only_b, result.jaccard) == (10, 0, 0, 1.0)


def flag_reference(users):
    TelegramUser.objects.filter(pk__in=[user.pk for user in users]).update(in_reference=True)


def test_it_compares_a_group_with_the_reference_snapshot(settings):
    settings.REFERENCE_GROUP = str(REFERENCE_ID)
    event = make_group(-1001, "Meetup")
    make_group(REFERENCE_ID, "s16 space", kind=TelegramGroup.Kind.REFERENCE)  # as a legacy import leaves it
    users = make_users(7, bots={1006})
    join(event, users[:4])
    flag_reference(users[2:])  # no memberships in the reference group: the flags are the snapshot; the bot is none

    result = compare_with_reference(group=event)

    assert (result.a_label, result.b_label) == ("Meetup", "s16 space (reference snapshot)")
    assert (result.a_count, result.b_count) == (4, 4)
    assert (result.overlap, result.only_a, result.only_b) == (2, 2, 2)
    assert result.jaccard == pytest.approx(2 / 6)
    rows = {part: [row[0] for row in reference_rows(group=event, part=part)] for part in comparison.PARTS}
    assert rows == {"overlap": [1002, 1003], "only_a": [1000, 1001], "only_b": [1004, 1005]}


def test_it_refuses_to_compare_with_an_empty_reference_snapshot(settings):
    settings.REFERENCE_GROUP = str(REFERENCE_ID)
    make_group(REFERENCE_ID, "s16 space", kind=TelegramGroup.Kind.REFERENCE)  # created, never refreshed
    event = make_group(-1001, "Meetup")
    join(event, make_users(3))

    with pytest.raises(ImproperlyConfigured, match="No reference snapshot"):
        compare_with_reference(group=event)
    with pytest.raises(ImproperlyConfigured, match="No reference snapshot"):
        reference_rows(group=event, part="only_a")


def test_its_member_rows_match_the_counts_in_telegram_id_order():
    a, b = random_groups(7, users=1500)
    legacy = TelegramUser.objects.create(telegram_id=None, username="legacy_only", first_name="Old")
    join(a, [legacy])  # known only by username: still a member, listed after everyone with an id
    result = compare_groups(a=a, b=b)
    set_a, set_b = python_sets(a), python_sets(b)

    rows = {part: list(member_rows(a=a, b=b, part=part)) for part in comparison.PARTS}

    assert [len(rows[part]) for part in comparison.PARTS] == [result.overlap, result.only_a, result.only_b]
    assert {row[0] for row in rows["overlap"]} == set_a & set_b
    assert [row[0] for row in rows["only_a"]] == [*sorted(set_a - set_b - {None}), None]
    assert [row[0] for row in rows["only_b"]] == sorted(set_b - set_a)
    assert rows["only_a"][-1] == (None, "legacy_only", "Old", "")
    first = rows["overlap"][0]
    assert first == (first[0], f"user_{first[0]}", f"First{first[0] - 1000}", "")


def test_it_rejects_an_unknown_part():
    a = make_group(-1001, "A")
    with pytest.raises(ValueError, match="part"):
        member_rows(a=a, b=a, part="everyone")


# --- VK community against a Telegram group ------------------------------------------------------


def vk_member(community, vk_id, domain, *, is_member=True, **names):
    user = VkUser.objects.create(id=vk_id, domain=domain, **names)
    VkSubscription.objects.create(community=community, user=user, is_member=is_member, first_joined_at=T0)
    return user


@pytest.fixture
def vk_and_telegram():
    """A Telegram group and a VK community where exactly two people match by name."""
    group = make_group(-1001, "Meetup")
    community = VkCommunity.objects.create(id=77, screen_name="meetup_club", name="Meetup club")
    alice, bob, id_named, plain, gone, carol = make_users(6)
    names = {alice: "Alice_Dev", bob: "bob", id_named: "id555", plain: "", gone: "gone_1", carol: "carol"}
    for user, username in names.items():
        user.username = username
        user.save()
    join(group, [alice, bob, id_named, plain, carol])
    join(group, [gone], left=True)
    vk_member(community, 11, "alice_dev", first_name="Alice")  # case differs: matched
    vk_member(community, 12, "BOB")  # matched
    vk_member(community, 555, "id555")  # VK's default name for user 555: never matched
    vk_member(community, 13, "")  # no short name
    vk_member(community, 14, "gone_1")  # the Telegram side left
    vk_member(community, 15, "someone_else")
    vk_member(community, 16, "plain", is_member=False)  # left the community
    other = VkCommunity.objects.create(id=78, name="Other")
    vk_member(other, 17, "carol")  # in another community: not matched
    return group, community, {"alice": alice, "bob": bob, "id_named": id_named, "plain": plain, "carol": carol}


def test_it_matches_vk_short_names_to_telegram_usernames_partially(vk_and_telegram):
    group, community, _ = vk_and_telegram

    with CaptureQueriesContext(connection) as queries:
        result = compare_vk_with_telegram(community=community, group=group)

    assert len(queries) == 1
    assert (result.a_count, result.b_count) == (5, 6)
    assert (result.overlap, result.only_a, result.only_b) == (2, 3, 4)
    assert result.jaccard == pytest.approx(2 / 9)
    assert result.partial is True
    assert result.note == NOTE and "lower bound" in result.note
    assert (result.a_label, result.b_label) == ("Meetup", "VK: Meetup club")


def test_its_vk_rows_match_the_counts(vk_and_telegram):
    group, community, users = vk_and_telegram

    overlap = list(vk_member_rows(community=community, group=group, part="overlap"))
    only_a = list(vk_member_rows(community=community, group=group, part="only_a"))
    only_b = list(vk_member_rows(community=community, group=group, part="only_b"))

    alice, bob = users["alice"], users["bob"]
    assert overlap == [
        (alice.telegram_id, "Alice_Dev", alice.first_name, "", 11, "alice_dev"),
        (bob.telegram_id, "bob", bob.first_name, "", 12, "BOB"),
    ]
    assert [row[0] for row in only_a] == [users[name].telegram_id for name in ("id_named", "plain", "carol")]
    assert only_b == [(13, "", "", ""), (14, "gone_1", "", ""), (15, "someone_else", "", ""), (555, "id555", "", "")]


def test_it_gives_a_jaccard_of_zero_for_an_empty_community_and_group():
    community = VkCommunity.objects.create(id=77, name="Empty")
    result = compare_vk_with_telegram(community=community, group=make_group(-1001, "Empty too"))

    assert (result.a_count, result.b_count, result.overlap, result.jaccard) == (0, 0, 0, 0.0)


# --- admin ----------------------------------------------------------------------------------------


@pytest.fixture
def two_groups(settings):
    settings.REFERENCE_GROUP = str(REFERENCE_ID)
    reference = make_group(REFERENCE_ID, "s16 space", kind=TelegramGroup.Kind.REFERENCE)
    first, second = make_group(-1001, "Meetup 1"), make_group(-1002, "Meetup 2")
    users = make_users(10)
    flag_reference(users[:5])
    join(first, users[3:8])  # 2 shared with the reference
    join(second, users[:1])  # 1 shared
    return reference, first, second


def test_the_changelist_links_to_the_compare_page(admin_client):
    response = admin_client.get(GROUPS_URL)

    assert response.status_code == 200
    assert COMPARE_URL in response.content.decode()


def test_the_action_compares_each_selected_group_with_the_reference(admin_client, two_groups):
    reference, first, second = two_groups

    response = admin_client.post(
        GROUPS_URL, {"action": "compare_with_reference", "_selected_action": [first.pk, second.pk], "index": 0}
    )

    assert response.status_code == 200
    rows = response.context["rows"]
    assert [(row["a"], row["comparison"].overlap, row["comparison"].only_a) for row in rows] == [
        (first, 2, 3),
        (second, 1, 0),
    ]
    page = response.content.decode()
    assert "only in the reference" in page
    assert rows[0]["links"]["only_b"].replace("&", "&amp;") in page

    download = admin_client.get(rows[0]["links"]["only_b"])  # only in the reference
    lines = read_csv(download)
    assert lines[0] == ["telegram_id", "username", "first_name", "last_name"]
    assert [int(line[0]) for line in lines[1:]] == [1000, 1001, 1002]


def test_the_action_says_so_when_there_is_no_reference_group(admin_client, settings):
    settings.REFERENCE_GROUP = ""
    group = make_group(-1001, "Meetup")

    response = admin_client.post(
        GROUPS_URL, {"action": "compare_with_reference", "_selected_action": [group.pk], "index": 0}, follow=True
    )

    assert response.redirect_chain and response.status_code == 200
    assert "No reference snapshot to compare with" in response.content.decode()


def test_the_compare_page_shows_the_form_then_the_counts(admin_client, two_groups):
    _, first, second = two_groups

    empty = admin_client.get(COMPARE_URL)
    assert empty.status_code == 200 and empty.context["rows"] == []
    assert 'name="a"' in empty.content.decode()

    response = admin_client.get(COMPARE_URL, {"a": first.pk, "b": f"tg:{second.pk}"})
    assert response.status_code == 200
    (row,) = response.context["rows"]
    assert (row["comparison"].a_count, row["comparison"].b_count, row["comparison"].overlap) == (5, 1, 0)
    assert "0.0000" in response.content.decode()  # Jaccard

    only_a = read_csv(admin_client.get(row["links"]["only_a"]))
    assert len(only_a) == 1 + 5

    response = admin_client.get(COMPARE_URL, {"a": first.pk, "b": "ref"})  # the reference snapshot
    (row,) = response.context["rows"]
    assert (row["comparison"].b_label, row["comparison"].overlap) == ("s16 space (reference snapshot)", 2)
    assert "only in the reference" in response.content.decode()
    assert [line[0] for line in read_csv(admin_client.get(row["links"]["overlap"]))] == ["telegram_id", "1003", "1004"]


def test_the_compare_page_says_so_when_there_is_no_reference_snapshot(admin_client):
    group = make_group(-1001, "Meetup")

    response = admin_client.get(COMPARE_URL, {"a": group.pk, "b": "ref"})

    assert response.status_code == 200 and response.context["rows"] == []
    assert "No reference snapshot to compare with" in response.content.decode()
    assert admin_client.get(CSV_URL, {"a": group.pk, "b": "ref", "part": "only_a"}).status_code == 400


def test_the_compare_page_marks_a_vk_comparison_as_partial(admin_client, vk_and_telegram):
    group, community, _ = vk_and_telegram

    response = admin_client.get(COMPARE_URL, {"a": group.pk, "b": f"vk:{community.pk}"})

    assert response.status_code == 200
    page = response.content.decode()
    assert "Partial match:" in page and "lower bound" in page
    (row,) = response.context["rows"]
    lines = read_csv(admin_client.get(row["links"]["overlap"]))
    assert lines[0] == ["telegram_id", "username", "first_name", "last_name", "vk_id", "vk_domain"]
    assert [line[4] for line in lines[1:]] == ["11", "12"]


def test_the_compare_page_rejects_what_is_not_a_group(admin_client, two_groups):
    _, first, _ = two_groups

    response = admin_client.get(COMPARE_URL, {"a": first.pk, "b": "tg:999999"})
    assert response.status_code == 200 and response.context["rows"] == []
    assert response.context["form"].errors["b"]

    assert admin_client.get(CSV_URL, {"a": first.pk, "b": f"tg:{first.pk}", "part": "all"}).status_code == 400


def test_its_csv_keeps_names_from_becoming_formulas(admin_client):
    a = make_group(-1001, "A")
    (user,) = make_users(1)
    user.first_name = "=HYPERLINK(1)"
    user.save()
    join(a, [user])

    lines = read_csv(admin_client.get(CSV_URL, {"a": a.pk, "b": f"tg:{a.pk}", "part": "overlap"}))

    assert lines[1] == ["1000", "user_1000", "'=HYPERLINK(1)", ""]


def test_the_pages_are_for_staff_only(client, two_groups):
    _, first, second = two_groups
    for url in (COMPARE_URL, f"{CSV_URL}?a={first.pk}&b=tg:{second.pk}&part=overlap"):
        response = client.get(url)
        assert response.status_code == 302 and "/login/" in response["Location"]
