"""Profile refresh: users.get in executes of 25 x 1,000, failures retried, never dropped silently."""

import pytest

from leadops.jobs import create_job
from leadops.models import JobRun
from vk_sync.client import VkClient
from vk_sync.models import VkUser
from vk_sync.services.profiles import refresh_profiles, refresh_subscriber_details
from vk_sync.services.subscribers import sync_subscribers

pytestmark = pytest.mark.django_db(transaction=True)


def client():
    return VkClient.from_db(sleep=lambda s: None)


def test_it_refreshes_every_subscribers_profile(vk, vk_tokens, vk_community):
    vk_tokens(3)
    community, group = vk_community(30_000)
    sync_subscribers(community_id=community.pk, job_id=create_job(kind="s").pk, client=client())
    job = create_job(kind="vk-subscriber-details")

    counts = refresh_subscriber_details(community_id=community.pk, job_id=job.pk, client=client())

    assert counts["failed"] == 0 and counts["requested"] == 30_000
    assert VkUser.objects.filter(details_refreshed_at__isnull=False).count() == 30_000
    # The member lists took 2 executes; profiles go 10,000 per execute (10 x 1,000 stays under
    # VK's 5 MB answer), so 30,000 take 3 and none is refused as too big.
    assert vk.errors_answered(13) == 0
    assert vk.executes == 2 + 3
    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED


def test_a_call_failing_inside_an_execute_is_retried_not_dropped(vk, vk_tokens):
    vk_tokens(2)
    vk.fail_next(method="users.get", code=10, times=1)
    ids = list(range(1, 5001))

    counts = refresh_profiles(user_ids=ids, client=client())

    assert counts["failed"] == 0
    assert VkUser.objects.filter(id__in=ids, details_refreshed_at__isnull=False).count() == 5000


def test_profiles_no_token_can_fetch_are_reported(vk, vk_tokens):
    tokens = vk_tokens(2)
    for row in tokens:
        vk.fail_next(token=row.token, code=5)

    counts = refresh_profiles(user_ids=list(range(1, 101)), client=client())

    assert counts["failed"] == 100
    assert not VkUser.objects.exists()
