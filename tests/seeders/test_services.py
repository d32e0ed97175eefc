"""Approve exactly the ten shown, or nothing; roll back; marks that expire."""

import io
import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from seeders import selectors, services
from seeders.models import SeederBatch, StaleMark
from telegram_sources.models import TelegramGroup, TelegramUser

REFERENCE = -1001234000001


@pytest.fixture
def people(db, settings):
    """30 candidates with distinct ranks, 3 reference members, 1 bot, and a fresh reference snapshot."""
    settings.REFERENCE_GROUP = str(REFERENCE)
    TelegramGroup.objects.create(telegram_id=REFERENCE, kind="reference", last_exported_at=timezone.now())
    users = [
        TelegramUser(
            telegram_id=1000 + i,
            username=f"user_{i:03d}",
            offline_cnt=50 - i,
            last_offline_at=datetime(2024, 1, 1, tzinfo=UTC),
        )
        for i in range(30)
    ]
    users += [
        TelegramUser(telegram_id=2000 + i, username=f"ref_{i}", offline_cnt=99, in_reference=True) for i in range(3)
    ]
    users.append(TelegramUser(telegram_id=3000, username="some_bot", offline_cnt=99, is_bot=True))
    TelegramUser.objects.bulk_create(users)
    return users


def top_ids(n=10):
    return [row["telegram_id"] for row in services.preview(n)]


def test_preview_follows_the_playbook_order_without_reference_members_or_bots(people):
    assert top_ids() == list(range(1000, 1010))


def test_ties_break_on_last_offline_then_telegram_id(db, people):
    TelegramUser.objects.filter(telegram_id__in=[1000, 1001, 1002]).update(offline_cnt=60)
    TelegramUser.objects.filter(telegram_id=1002).update(last_offline_at=datetime(2025, 1, 1, tzinfo=UTC))
    TelegramUser.objects.filter(telegram_id=1000).update(last_offline_at=None)
    assert top_ids(4) == [1002, 1001, 1000, 1003]


def test_approve_marks_exactly_the_submitted_ten(people, admin_user):
    ids = top_ids()
    result = services.approve(ids=ids, user=admin_user)

    assert result.ok
    marked = StaleMark.objects.filter(batch=result.batch)
    assert sorted(marked.values_list("user__telegram_id", flat=True)) == ids
    assert StaleMark.objects.count() == 10
    assert result.batch.reason.startswith("seeders-next-top10 ")
    assert [row["telegram_id"] for row in result.batch.rows_before] == ids
    assert {m.until - m.set_at for m in marked} == {timedelta(days=180)}
    assert top_ids() == list(range(1010, 1020))
    assert LogEntry.objects.filter(object_id=str(result.batch.pk), user=admin_user).exists()


def test_an_outdated_preview_writes_nothing_and_says_why(people):
    shown = top_ids()
    assert services.approve(ids=shown).ok  # someone else approved this preview meanwhile

    again = services.approve(ids=shown)
    assert not again.ok
    assert "changed since this preview" in again.reason
    assert SeederBatch.objects.count() == 1 and StaleMark.objects.count() == 10


def test_a_reference_change_makes_the_preview_outdated(people):
    shown = top_ids()
    TelegramUser.objects.filter(telegram_id=1003).update(in_reference=True)
    result = services.approve(ids=shown)
    assert not result.ok and "changed since this preview" in result.reason
    assert not StaleMark.objects.exists()


@pytest.mark.parametrize("ids", [list(range(1000, 1009)), [*range(1000, 1009), 1000], [*range(1000, 1009), 1011]])
def test_it_refuses_anything_but_the_exact_ten(people, ids):
    result = services.approve(ids=ids)
    assert not result.ok
    assert not SeederBatch.objects.exists()


def test_it_refuses_to_approve_on_an_old_reference_snapshot(people, settings):
    TelegramGroup.objects.filter(telegram_id=REFERENCE).update(last_exported_at=timezone.now() - timedelta(hours=25))
    result = services.approve(ids=top_ids())
    assert not result.ok
    assert "reference snapshot is 25 h old (limit 24 h)" in result.reason
    assert not SeederBatch.objects.exists()


def test_an_expired_mark_no_longer_excludes_its_user(people):
    now = timezone.now()
    assert services.approve(ids=top_ids(), now=now).ok
    assert 1000 not in [u.telegram_id for u in selectors.top_candidates(10, at=now + timedelta(days=179))]
    assert [u.telegram_id for u in selectors.top_candidates(10, at=now + timedelta(days=181))] == list(
        range(1000, 1010)
    )


def test_rollback_returns_the_ten_and_keeps_the_revoked_marks(people, admin_user):
    batch = services.approve(ids=top_ids(), user=admin_user).batch

    message = services.rollback(batch=batch, user=admin_user)

    assert "10 stale marks revoked" in message
    assert top_ids() == list(range(1000, 1010))
    assert StaleMark.objects.filter(batch=batch, revoked_at__isnull=False, revoked_by=admin_user).count() == 10
    batch.refresh_from_db()
    assert batch.status == SeederBatch.Status.ROLLED_BACK and batch.rolled_back_by == admin_user
    assert "already rolled back" in services.rollback(batch=batch, user=admin_user)
    assert StaleMark.objects.filter(batch=batch).count() == 10


def test_verify_lists_the_top_not_in_reference_with_their_marks(people):
    services.approve(ids=top_ids())
    rows = services.verify(30)
    assert [r["telegram_id"] for r in rows] == list(range(1000, 1030))
    assert [r["stale"] for r in rows] == [True] * 10 + [False] * 20
    assert rows[0]["stale_until"] and rows[10]["stale_until"] is None


def test_the_command_line_does_the_same(people):
    out = io.StringIO()
    call_command("seeders", "preview", "--json", stdout=out)
    rows = json.loads(out.getvalue())
    assert set(rows[0]) == {
        "telegram_id",
        "username",
        "first_name",
        "last_name",
        "offline_cnt",
        "last_offline_at",
        "first_seen_at",
        "stale",
        "stale_set_at",
        "stale_until",
    }
    ids = ",".join(str(r["telegram_id"]) for r in rows)

    call_command("seeders", "approve", "--ids", ids, stdout=io.StringIO())
    with pytest.raises(CommandError, match="nothing was marked"):
        call_command("seeders", "approve", "--ids", ids, stdout=io.StringIO())
    batch = SeederBatch.objects.get()
    out = io.StringIO()
    call_command("seeders", "rollback", str(batch.pk), stdout=out)
    assert "rolled back" in out.getvalue()
    out = io.StringIO()
    call_command("seeders", "verify", "--top", "3", stdout=out)
    assert out.getvalue().splitlines()[0].startswith("1) @user_000 () - 50 events")
    with pytest.raises(CommandError, match="no seeder batch 999"):
        call_command("seeders", "rollback", "999")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_approvals_make_exactly_one_batch(people):
    shown = top_ids()
    barrier = threading.Barrier(2)
    results = []

    def reviewer():
        try:
            barrier.wait()
            results.append(services.approve(ids=shown))
        finally:
            connection.close()  # each thread has its own connection: a real race between two

    threads = [threading.Thread(target=reviewer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(r.ok for r in results) == [False, True]
    assert SeederBatch.objects.count() == 1
    assert StaleMark.objects.count() == 10
