"""Subscriber sync of a 1,000,000-member community (target: <= 42 executes, <= 60 s with the apply, PostgreSQL).

Three user tokens against the VK emulator; prints requests, fetch time and apply
time for the first sync (everyone new) and a second one (10,000 leave, 20,000 join).
"""

import time

import pytest

from leadops.jobs import create_job
from tests.emulators.vk import VkEmulator
from vk_sync.client import VkClient
from vk_sync.models import VkCommunity, VkMembershipEvent, VkSubscription, VkToken
from vk_sync.services import subscribers

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]
MEMBERS = 1_000_000


def bench_sync_a_million_members(settings, monkeypatch):
    timings = {}
    real_apply = subscribers.apply_members

    def timed_apply(**kwargs):
        began = time.perf_counter()
        try:
            return real_apply(**kwargs)
        finally:
            timings["apply"] = time.perf_counter() - began

    monkeypatch.setattr(subscribers, "apply_members", timed_apply)
    with VkEmulator() as vk:
        settings.VK_API_URL = vk.url
        for n in range(3):
            vk.add_token(f"bench-token-{n}", "user", label=f"bench-{n}")
            VkToken.objects.create(kind="user", label=f"bench-{n}", token=f"bench-token-{n}")
        group = vk.add_group(1, "Million", members=MEMBERS)
        community = VkCommunity.objects.create(id=1, name="Million")

        for label, change in (("first sync", None), ("second sync", (10_000, 20_000))):
            if change:
                vk.members_change(
                    leave=group.members[::100][: change[0]], join=range(9_000_000_000, 9_000_000_000 + change[1])
                )
            executes_before = vk.executes
            began = time.perf_counter()
            job = create_job(kind="vk-subscribers")
            result = subscribers.sync_subscribers(community_id=1, job_id=job.pk, client=VkClient.from_db())
            total = time.perf_counter() - began
            executes = vk.executes - executes_before
            print(
                f"\n[bench] vk {label}: {result.summary()}; {executes} executes (target <= 42), "
                f"fetch {total - timings['apply']:.1f} s + apply {timings['apply']:.1f} s = {total:.1f} s "
                f"(target <= 60 s)"
            )
            assert executes <= 42
        assert VkSubscription.objects.filter(community=community, is_member=True).count() == len(group.members)
        assert VkMembershipEvent.objects.filter(kind="leave").count() == 10_000
        assert VkMembershipEvent.objects.filter(kind="join").count() == 20_000
