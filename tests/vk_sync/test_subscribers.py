"""Subscriber sync against the VK emulator: exact data, exact events, and faults that change nothing."""

import pytest

from leadops.jobs import create_job
from leadops.models import JobRun
from vk_sync.client import VkClient
from vk_sync.models import VkMembershipEvent, VkSubscription, VkToken
from vk_sync.services.subscribers import SyncAborted, sync_subscribers

pytestmark = pytest.mark.django_db(transaction=True)


def sync(community):
    job = create_job(kind="vk-subscribers", target=str(community))
    result = sync_subscribers(community_id=community.pk, job_id=job.pk, client=VkClient.from_db(sleep=lambda s: None))
    job.refresh_from_db()
    return result, job


def members_in_db(community):
    return set(VkSubscription.objects.filter(community=community, is_member=True).values_list("user_id", flat=True))


def events(kind):
    return set(VkMembershipEvent.objects.filter(kind=kind).values_list("user_id", flat=True))


def test_it_fetches_exactly_the_dataset_in_batches_of_25000(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)

    result, job = sync(community)

    assert members_in_db(community) == set(group.members)
    assert vk.executes == 3  # 60,000 / 25,000 rounded up
    assert result.baseline and not VkMembershipEvent.objects.exists()
    assert job.status == JobRun.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total) == (3, 3)
    assert job.counters["fetched"] == 60_000 and job.counters["tokens_used"] >= 1
    community.refresh_from_db()
    assert community.members_count == 60_000 and community.last_sync["subscribers"]["result"] == "ok"


def test_a_second_sync_records_exactly_the_joins_and_leaves(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)
    sync(community)
    leavers = group.members[::100][:600]
    joiners = range(900_000_000, 900_001_200)
    vk.members_change(join=joiners, leave=leavers)

    result, _ = sync(community)

    assert (result.joined, result.left) == (1200, 600)
    assert events("leave") == set(leavers)
    assert events("join") == set(joiners)
    assert members_in_db(community) == set(group.members)
    assert VkSubscription.objects.filter(user_id=leavers[0], is_member=False, left_at__isnull=False).exists()


def test_a_token_answering_error_5_is_marked_invalid_and_the_others_finish(vk, vk_tokens, vk_community):
    tokens = vk_tokens(3)
    community, group = vk_community(60_000)
    vk.fail_next(token=tokens[0].token, code=5)

    sync(community)

    assert members_in_db(community) == set(group.members)
    assert VkToken.objects.get(pk=tokens[0].pk).status == VkToken.Status.INVALID


def test_error_13_halves_the_batch(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)
    vk.fail_next(method="execute", code=13, msg="Response size is too big")

    _, job = sync(community)

    assert members_in_db(community) == set(group.members)
    assert vk.errors_answered(13) == 1
    assert vk.executes == 2 + 2  # two whole batches, and the refused one (never run) again as two halves
    assert job.status == JobRun.Status.SUCCEEDED


def test_errors_6_9_and_29_on_a_tenth_of_requests_still_end_with_exact_data(vk, vk_tokens, vk_community):
    vk_tokens(4)
    community, group = vk_community(200_000)
    vk.fault_rate(0.1, codes=(6, 9, 29), seed=3)

    sync(community)

    assert members_in_db(community) == set(group.members)
    assert sum(vk.errors_answered(code) for code in (6, 9, 29)) >= 1


def test_a_run_that_fetches_only_94_percent_aborts_and_changes_nothing(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)
    sync(community)
    before = members_in_db(community)
    vk.members_change(leave=group.members[:50])
    vk.fail_members_beyond(0.94)

    with pytest.raises(SyncAborted, match="under the 95% safety threshold: nothing was changed"):
        sync(community)

    assert members_in_db(community) == before
    assert not VkMembershipEvent.objects.exists()
    assert JobRun.objects.filter(status=JobRun.Status.FAILED).count() == 1
    community.refresh_from_db()
    assert community.last_sync["subscribers"]["result"] == "aborted"


def test_a_short_page_never_produces_left_events(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)
    sync(community)
    vk.short_page_next(1)  # one page comes back half empty; nobody really left

    result, _ = sync(community)

    assert result.left == 0 and not events("leave")
    assert members_in_db(community) == set(group.members)


def test_people_joining_during_the_fetch_are_picked_up_without_false_leaves(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(60_000)
    sync(community)
    joiners = list(range(5, 60_000_000, 600_000))  # ids spread over the whole range: boundaries shift
    vk.during_fetch(lambda emulator: emulator.members_change(join=joiners), after=3)

    result, _ = sync(community)

    assert not events("leave")
    assert events("join") <= set(joiners)
    assert members_in_db(community) <= set(group.members)
