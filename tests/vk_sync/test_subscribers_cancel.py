"""Cancel during a subscriber sync: the fetch stops between chunks, on every token's thread,
and the one-transaction apply never starts, so the members and their history stay as they were."""

import pytest
from django.db import connections

from leadops import jobs
from leadops.jobs import JobWasCancelled, create_job, request_cancel
from leadops.models import JobRun
from vk_sync.client import VkClient
from vk_sync.models import VkMembershipEvent, VkSubscription
from vk_sync.services import subscribers
from vk_sync.services.subscribers import sync_subscribers

pytestmark = pytest.mark.django_db(transaction=True)


def cancel_from_the_admin(job):
    """What the emulator calls mid-fetch, on its own thread: an operator's Cancel."""

    def press(_emulator):
        try:
            request_cancel(job, user=None)
        finally:
            connections.close_all()  # this thread's connection, or the test database stays in use

    return press


@pytest.mark.parametrize("tokens", [1, 3])
def test_a_cancelled_subscriber_sync_stops_between_chunks_and_changes_nothing(
    vk, vk_tokens, vk_community, monkeypatch, tokens
):
    monkeypatch.setattr(jobs, "FLUSH_INTERVAL", 0.0)  # every report looks at the flag (in production: 1/s)
    monkeypatch.setattr(subscribers, "CALLS_PER_EXECUTE", 1)  # a chunk per 1,000 members: 9 chunks
    vk_tokens(tokens)
    community, group = vk_community(9_000)
    job = create_job(kind="vk-subscribers", target=str(community))
    # The first getMembers is the count; the next ones are chunks: Cancel comes with the second chunk.
    vk.during_fetch(cancel_from_the_admin(job), after=3)

    with pytest.raises(JobWasCancelled):
        sync_subscribers(community_id=community.pk, job_id=job.pk, client=VkClient.from_db(sleep=lambda s: None))

    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and not job.error
    assert "stopped between steps" in job.log_tail
    assert 2 <= job.progress_done < job.progress_total == 9  # stopped early: a chunk more per thread at most
    assert vk.executes < 9
    assert not VkSubscription.objects.exists() and not VkMembershipEvent.objects.exists()
    community.refresh_from_db()
    assert "subscribers" not in community.last_sync  # neither "ok" nor "aborted": it did not run to the end

    again = create_job(kind="vk-subscribers", target=str(community))
    sync_subscribers(community_id=community.pk, job_id=again.pk, client=VkClient.from_db(sleep=lambda s: None))
    assert set(VkSubscription.objects.filter(is_member=True).values_list("user_id", flat=True)) == set(group.members)
