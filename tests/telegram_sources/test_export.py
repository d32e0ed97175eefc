"""Exporting a group: checkpointed pages, FloodWait, the search sweep, leaves, offline stats."""

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from leadops import ratelimit
from leadops.models import JobRun
from telegram_sources.fake_world import synthetic_people
from telegram_sources.gateway import FloodWait
from telegram_sources.models import ExportCheckpoint, Membership, TelegramGroup, TelegramUser
from telegram_sources.services.export import MembersHidden
from telegram_sources.services.jobs import run_group_export

pytestmark = pytest.mark.django_db
ACCOUNT = "acct-1"


def export(group, job, **kwargs):
    return run_group_export(group_id=group.pk, job_id=job.pk, account=ACCOUNT, **kwargs)


def test_it_exports_50000_members_across_two_floodwaits(world, clock, new_job):
    world.add_group(-1001, "Big event", synthetic_people(50_000, seed=1))
    world.inject_flood_wait(-1001, page=37, seconds=30)
    world.inject_flood_wait(-1001, page=120, seconds=900)
    group = TelegramGroup.objects.create(telegram_id=-1001)
    first = new_job()

    with pytest.raises(FloodWait) as stopped:
        export(group, first)

    assert stopped.value.seconds == 900
    assert 30 in [round(s) for s in clock.sleeps]  # the short one was waited out, not raised
    blocked = ratelimit.blocked_until(f"tg:{ACCOUNT}")
    assert 899 <= (blocked - datetime.fromtimestamp(clock.now, UTC)).total_seconds() <= 900
    assert ExportCheckpoint.objects.get(group=group).offset == 119 * 200
    first.refresh_from_db()
    assert first.status == JobRun.Status.FAILED and "900" in first.error

    requests_before = len(world.requests)
    with pytest.raises(FloodWait):  # too early: refused without asking Telegram anything
        export(group, new_job())
    assert len(world.requests) == requests_before

    clock.sleep(900)
    second = new_job()
    result = export(group, second)

    assert result.fetched == 50_000
    assert TelegramUser.objects.count() == 50_000
    assert Membership.objects.filter(group=group).count() == 50_000
    assert not ExportCheckpoint.objects.filter(group=group).exists()
    second.refresh_from_db()
    assert second.status == JobRun.Status.SUCCEEDED
    assert second.counters["coverage_pct"] == 100.0
    assert second.counters["fetched"] == 50_000
    assert "resuming: listing at offset 23800" in second.log_tail
    # Resumed, not restarted: the second run asked only for the pages after the stop.
    pages_asked = [m for _, _, m in world.requests[requests_before:] if m == "get_participants"]
    assert len(pages_asked) == 250 - 119 + 1


def test_it_sweeps_search_queries_past_the_listing_cap(world, clock, new_job, settings):
    settings.TELEGRAM_RPS = 1000  # a sweep is ~1,000 requests; the fake clock makes them free anyway
    world.add_group(-1002, "Large chat", synthetic_people(25_000, seed=1), listing_cap=10_000, search_cap=1_000)
    group = TelegramGroup.objects.create(telegram_id=-1002)
    job = new_job()

    result = export(group, job)

    assert result.coverage >= 0.99
    job.refresh_from_db()
    assert job.counters["coverage_pct"] >= 99.0
    assert job.counters["search_queries"] > 0
    assert "the listing stopped at 10000 of 25000" in job.log_tail
    assert Membership.objects.filter(group=group).count() == result.fetched  # no duplicates


def test_it_resumes_a_search_sweep_where_it_stopped(world, clock, new_job, settings):
    settings.TELEGRAM_RPS = 1000
    world.add_group(-1003, "Chat", synthetic_people(3_000, seed=3), listing_cap=1_000, search_cap=300)
    world.inject_flood_wait(-1003, page=2, seconds=3600, query="a")
    group = TelegramGroup.objects.create(telegram_id=-1003)

    with pytest.raises(FloodWait):
        export(group, new_job())
    checkpoint = ExportCheckpoint.objects.get(group=group)
    assert checkpoint.phase == ExportCheckpoint.Phase.SEARCH
    assert checkpoint.pending_queries[0] == "a" and checkpoint.offset == 200

    clock.sleep(3600)
    result = export(group, new_job())
    assert result.coverage >= 0.99
    assert Membership.objects.filter(group=group).count() == result.fetched


def test_it_reports_a_hidden_member_list_as_such(world, clock, new_job):
    world.add_group(-1004, "Hidden", synthetic_people(500, seed=4), hidden=True)
    group = TelegramGroup.objects.create(telegram_id=-1004)
    job = new_job()

    with pytest.raises(MembersHidden, match="member list is hidden, only 2 admins are visible of 500"):
        export(group, job)

    job.refresh_from_db()
    group.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert group.members_hidden
    assert not Membership.objects.filter(left_at__isnull=False).exists()


def test_it_records_leaves_and_rejoins(world, clock, new_job):
    people = synthetic_people(600, seed=5)
    fake = world.add_group(-1005, "Event", people)
    group = TelegramGroup.objects.create(telegram_id=-1005)
    export(group, new_job())

    fake.members = fake.members[:500]  # 100 people left
    result = export(group, new_job())
    assert result.left == 100
    gone = Membership.objects.filter(group=group, left_at__isnull=False)
    assert set(gone.values_list("user__telegram_id", flat=True)) == {p.id for p in people[500:]}

    fake.members = fake.members + people[550:]  # 50 came back
    export(group, new_job())
    assert Membership.objects.filter(group=group, left_at__isnull=False).count() == 50


def test_a_partial_export_marks_nobody_as_left(world, clock, new_job):
    fake = world.add_group(-1006, "Event", synthetic_people(1_000, seed=6))
    group = TelegramGroup.objects.create(telegram_id=-1006)
    export(group, new_job())

    fake.listing_cap, fake.search_cap = 400, 0  # Telegram now shows only 400 and search finds nobody
    job = new_job()
    result = export(group, job)

    assert result.left == 0
    assert not Membership.objects.filter(left_at__isnull=False).exists()
    job.refresh_from_db()
    assert "too low to record leaves" in job.log_tail


def test_it_recomputes_offline_stats_from_event_memberships(world, clock, new_job):
    people = synthetic_people(300, seed=8)
    world.add_group(-1011, "Meetup 1", people[:200])
    world.add_group(-1012, "Meetup 2", people[100:300])
    legacy = TelegramUser.objects.create(
        telegram_id=42, username="legacy_only", offline_cnt=5, last_offline_at=datetime(2020, 1, 1, tzinfo=UTC)
    )
    first = TelegramGroup.objects.create(telegram_id=-1011, kind="event", event_date=date(2024, 2, 10))
    second = TelegramGroup.objects.create(telegram_id=-1012, kind="event", event_date=date(2024, 9, 14))

    export(first, new_job())
    export(second, new_job())

    both = TelegramUser.objects.get(telegram_id=people[150].id)
    only_first = TelegramUser.objects.get(telegram_id=people[50].id)
    assert (both.offline_cnt, both.last_offline_at.date()) == (2, date(2024, 9, 14))
    assert (only_first.offline_cnt, only_first.last_offline_at.date()) == (1, date(2024, 2, 10))
    legacy.refresh_from_db()
    assert (legacy.offline_cnt, legacy.last_offline_at.year) == (5, 2020)


def test_it_keeps_bots_flagged_and_counts_them_for_coverage(world, clock, new_job):
    people = synthetic_people(250, seed=9)
    people[3] = replace(people[3], is_bot=True)
    world.add_group(-1013, "Chat", people)
    group = TelegramGroup.objects.create(telegram_id=-1013)

    result = export(group, new_job())

    assert result.coverage == 1.0
    assert TelegramUser.objects.get(telegram_id=people[3].id).is_bot
