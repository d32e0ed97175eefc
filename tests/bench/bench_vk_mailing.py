"""Mailing sync and analysis of 20,000 dialogs: requests against the minimum batching allows (PostgreSQL).

Three community tokens (and a user token in the pool, never used) against the VK emulator.
Minimum requests: mailing ceil(conversations / 200 / 25) executes of 25 x getConversations;
analysis ceil(dialogs / 20) executes of 20 x getHistory. Target: within 10 % of each.
"""

import math
import time

import pytest

from leadops.jobs import create_job
from tests.emulators.vk import VkEmulator
from tests.emulators.vk_messages import VkMessages
from vk_sync.client import VkClient
from vk_sync.models import VkCommunity, VkDialog, VkToken, VkTokenCommunity
from vk_sync.services.mailing import sync_mailing
from vk_sync.services.mailing_analysis import analyze_mailing

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]
DIALOGS = 20_000
TARGET = 1.10


def bench_mailing_and_analysis_of_20000_dialogs(settings):
    with VkEmulator() as vk:
        settings.VK_API_URL = vk.url
        messages = VkMessages(vk).install()
        community = VkCommunity.objects.create(id=1, name="Mailing")
        for n in range(3):
            vk.add_token(f"bench-community-{n}", "community", label=f"bench-community-{n}", group_id=1)
            row = VkToken.objects.create(kind="community", label=f"bench-community-{n}", token=f"bench-community-{n}")
            VkTokenCommunity.objects.create(token=row, community=community, admin_level=3)
        vk.add_token("bench-user", "user", label="bench-user")
        VkToken.objects.create(kind="user", label="bench-user", token="bench-user")
        messages.add_dialogs(1, users=DIALOGS)
        conversations = len(messages.dialogs[1])
        world = messages.user_dialogs(1)

        ratios = {}
        for label, minimum, run in (
            ("mailing", math.ceil(conversations / 200 / 25), lambda job: sync_mailing(community_id=1, job_id=job)),
            ("analysis", math.ceil(DIALOGS / 20), lambda job: analyze_mailing(community_id=1, job_id=job)),
        ):
            before = vk.requests["execute"]
            began = time.perf_counter()
            counts = run(create_job(kind=f"vk-{label}").pk)
            elapsed = time.perf_counter() - began
            requests = vk.requests["execute"] - before
            ratios[label] = requests / minimum
            print(
                f"\n[bench] vk {label}: {counts}; {requests} requests, minimum {minimum} "
                f"(ratio {ratios[label]:.3f}, target <= {TARGET:.2f}), {elapsed:.1f} s"
            )

        rows = VkDialog.objects.filter(community=community)
        assert rows.count() == DIALOGS
        assert {
            r.user_id: (r.can_write, int(r.first_message_date.timestamp()), r.first_message_from_id) for r in rows
        } == {uid: (d.can_write, d.first_date, d.first_from) for uid, d in world.items()}
        assert {label for label, _method in messages.calls} <= {f"bench-community-{n}" for n in range(3)}
        assert not vk.timestamps.get("bench-user")
        assert all(ratio <= TARGET for ratio in ratios.values()), ratios
        assert VkClient.from_db(kinds=("community",), community=community).tokens  # none was set aside
