"""The Smart Joiner through the fake Telegram: every outcome, its pause, and two workers at once."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import JoinTarget, TelegramAccount
from accounts.services.joiner import SmartJoiner

pytestmark = pytest.mark.django_db


class Pauses:
    """Stands in for time.sleep: records the pauses instead of taking them."""

    def __init__(self):
        self.taken = []

    def __call__(self, seconds):
        self.taken.append(seconds)


def run(niche="cars", size=5, **kwargs):
    pauses = Pauses()
    result = SmartJoiner(sleep=pauses, **kwargs).run_batch(niche, size)
    return result, pauses.taken


def test_a_joined_group_is_bound_to_its_account_with_warm_up_and_a_pause(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(2)
    account = make_account("promo_1")
    first, second = make_targets(["chat_000", "chat_001"])

    result, pauses = run(size=2)

    first.refresh_from_db()
    assert first.status == JoinTarget.Status.JOINED
    assert first.assigned_account == account
    assert first.warmup_ends_at - first.joined_at == timedelta(hours=24)
    assert first.telegram_id == -1005000000000 and first.title == "Chat 0" and first.can_post
    assert result.joined == ["@chat_000", "@chat_001"]
    assert len(pauses) == 1 and 300 <= pauses[0] <= 600  # between the two groups, not after the last
    account.refresh_from_db()
    assert account.channels_joined_count == 2 and account.last_action_at is not None


def test_already_a_member_counts_as_success(world, joiner_settings, make_account, make_groups, make_targets):
    make_groups(1)
    world.groups[-1005000000000].joined_by.add("promo_1")
    account = make_account("promo_1")
    (target,) = make_targets(["chat_000"])

    result, _ = run()

    target.refresh_from_db()
    assert target.status == JoinTarget.Status.JOINED and target.assigned_account == account
    account.refresh_from_db()
    assert account.channels_joined_count == 0  # it was already counted when it joined


def test_an_invite_link_is_checked_then_imported(world, joiner_settings, make_account, make_groups):
    make_groups(1, private=True)
    world.add_invite("AbCdEf123456", -1005000000000)
    make_account("promo_1")
    target = JoinTarget.objects.create(link="https://t.me/+AbCdEf123456", invite_hash="AbCdEf123456", niche="cars")

    run()

    target.refresh_from_db()
    assert target.status == JoinTarget.Status.JOINED and target.title == "Chat 0"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda w: None, "username @chat_404 is not occupied"),
        (
            lambda w: w.add_group(-1005000000404, "Private", [], username="chat_404", private=True),
            "the channel is private",
        ),
        (
            lambda w: w.add_group(-1005000000404, "Approval", [], username="chat_404", admin_required=True),
            "needs an admin's approval",
        ),
    ],
)
def test_a_failed_join_saves_the_message_and_pauses_for_the_error(
    world, joiner_settings, make_account, make_targets, setup, message
):
    setup(world)
    make_account("promo_1")
    make_targets(["chat_404", "chat_405"])

    result, pauses = run(size=2)

    target = JoinTarget.objects.get(username="@chat_404")
    assert target.status == JoinTarget.Status.ERROR
    assert message in target.error_message
    assert target.attempts == 1
    assert pauses == [60]


def test_an_expired_invite_is_an_error_with_its_message(world, joiner_settings, make_account):
    world.add_invite("Expired12345", None)
    make_account("promo_1")
    target = JoinTarget.objects.create(link="t.me/+Expired12345", invite_hash="Expired12345", niche="cars")

    run()

    target.refresh_from_db()
    assert target.status == JoinTarget.Status.ERROR and "expired" in target.error_message


def test_a_short_floodwait_is_waited_out_and_the_group_stays_new(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(2)
    account = make_account("promo_1")
    make_account("promo_2", last_action_at=timezone.now())  # used more recently: picked second
    world.inject_join_flood_wait("promo_1", 300)
    first, second = make_targets(["chat_000", "chat_001"])

    result, pauses = run(size=2)

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == JoinTarget.Status.NEW and first.assigned_account is None
    assert pauses[0] == 300  # waited out
    assert second.status == JoinTarget.Status.JOINED and second.assigned_account.session_name == "promo_2"
    account.refresh_from_db()
    assert account.status == TelegramAccount.Status.FLOOD_WAIT
    assert result.skipped == ["@chat_000"]


def test_a_long_floodwait_cools_the_account_down_and_the_next_group_tries_another(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(3)
    first_account = make_account("promo_1")
    make_account("promo_2", last_action_at=timezone.now())
    world.inject_join_flood_wait("promo_1", 3600)
    targets = make_targets(["chat_000", "chat_001", "chat_002"])

    result, pauses = run(size=3)

    first_account.refresh_from_db()
    assert first_account.status == TelegramAccount.Status.COOLDOWN
    comes_back = first_account.next_allowed_action_time - timezone.now()
    assert timedelta(minutes=59) < comes_back <= timedelta(hours=1)
    assert first_account.last_error == "FloodWait 3600 s"
    statuses = {t.username: (t.status, t.assigned_account) for t in JoinTarget.objects.all()}
    assert statuses["@chat_000"] == (JoinTarget.Status.NEW, None)
    assert {statuses[u][1].session_name for u in ("@chat_001", "@chat_002")} == {"promo_2"}
    assert 0 not in pauses and len(pauses) == 1  # no pause after the cooldown, one between the two joins
    assert targets


def test_a_cooled_down_account_is_picked_again_once_its_time_has_passed(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(1)
    account = make_account(
        "promo_1",
        status=TelegramAccount.Status.COOLDOWN,
        next_allowed_action_time=timezone.now() + timedelta(hours=2),
    )
    make_targets(["chat_000"])

    result, _ = run()
    assert result.stopped.startswith("no usable account")
    assert JoinTarget.objects.get().status == JoinTarget.Status.NEW

    TelegramAccount.objects.filter(pk=account.pk).update(next_allowed_action_time=timezone.now() - timedelta(seconds=1))
    result, _ = run()
    account.refresh_from_db()
    assert result.joined == ["@chat_000"]
    assert account.status == TelegramAccount.Status.ACTIVE


def test_no_usable_account_stops_the_batch_with_a_clear_message(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(2)
    make_account("banned_one", status=TelegramAccount.Status.BANNED)
    make_account("disabled_one", status=TelegramAccount.Status.DISABLED)
    make_targets(["chat_000", "chat_001"])

    result, pauses = run()

    assert "no usable account" in result.stopped
    assert set(JoinTarget.objects.values_list("status", flat=True)) == {"new"}
    assert pauses == []


def test_accounts_at_their_limits_are_not_used(world, joiner_settings, make_account, make_groups, make_targets):
    joiner_settings.JOINER_MAX_JOINS_PER_DAY = 2
    joiner_settings.JOINER_MAX_CHANNELS_PER_ACCOUNT = 500
    make_groups(4)
    busy = make_account("busy")
    full = make_account("full", channels_joined_count=500)
    fresh = make_account("fresh", last_action_at=timezone.now())
    for n in (10, 11):  # two joins in the last day
        JoinTarget.objects.create(
            link=f"@old_{n}",
            username=f"@old_{n}",
            niche="other",
            status="joined",
            assigned_account=busy,
            joined_at=timezone.now() - timedelta(hours=3),
        )
    make_targets(["chat_000"])

    run()

    assert JoinTarget.objects.get(username="@chat_000").assigned_account == fresh
    assert full.targets.count() == 0


def test_the_least_recently_used_account_goes_first(world, joiner_settings, make_account, make_groups, make_targets):
    make_groups(2)
    make_account("recent", last_action_at=timezone.now() - timedelta(minutes=1))
    make_account("rested", last_action_at=timezone.now() - timedelta(days=1))
    make_targets(["chat_000"])

    run(size=1)

    assert JoinTarget.objects.get().assigned_account.session_name == "rested"


def test_a_revoked_session_bans_the_account_and_leaves_the_group_new(
    world, joiner_settings, make_account, make_groups, make_targets
):
    make_groups(1)
    account = make_account("revoked")
    world.revoked_sessions.add("revoked")
    make_targets(["chat_000"])

    result, _ = run()

    account.refresh_from_db()
    assert account.status == TelegramAccount.Status.BANNED and "revoked" in account.last_error
    assert JoinTarget.objects.get().status == JoinTarget.Status.NEW


def test_a_joined_target_is_never_taken_again(world, joiner_settings, make_account, make_groups, make_targets):
    make_groups(1)
    make_account("promo_1")
    make_account("promo_2")
    make_targets(["chat_000"])
    run()
    first = JoinTarget.objects.get().assigned_account

    run()

    assert JoinTarget.objects.get().assigned_account == first
    assert len(world.groups[-1005000000000].joined_by) == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_never_join_one_target_twice_nor_share_an_account(
    world, joiner_settings, make_account, make_groups, make_targets, monkeypatch
):
    make_groups(8)
    for n in range(3):
        make_account(f"promo_{n}")
    make_targets([f"chat_{n:03d}" for n in range(8)])
    in_use: dict[str, int] = {}
    overlaps = []
    joins = []
    guard = threading.Lock()
    from telegram_sources.fake_gateway import FakeTelegramGateway

    real_join = FakeTelegramGateway.join

    def slow_join(self, **kwargs):
        with guard:
            in_use[self.account] = in_use.get(self.account, 0) + 1
            if in_use[self.account] > 1:
                overlaps.append(self.account)
            joins.append((self.account, kwargs.get("username")))
        time.sleep(0.05)  # long enough for the other worker to try the same account
        try:
            return real_join(self, **kwargs)
        finally:
            with guard:
                in_use[self.account] -= 1

    monkeypatch.setattr(FakeTelegramGateway, "join", slow_join)
    joiner_settings.JOINER_PAUSE_SUCCESS = "0-0"

    def worker():
        try:
            SmartJoiner(sleep=lambda s: None).run_batch("cars", 5)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    usernames = [u for _, u in joins]
    assert len(usernames) == len(set(usernames)), "a target was joined twice"
    assert overlaps == [], "an account was driven by two workers at once"
    assert JoinTarget.objects.filter(status="joined").count() == len(usernames) == 8
