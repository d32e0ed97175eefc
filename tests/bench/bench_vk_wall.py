"""Wall lists against the VK emulator: requests per list vs the minimum that 25-call executes allow (PostgreSQL).

Club 1: 2,500 posts, all engaged (likes from a handful to 5,000, comments to 250, reposts to 1,500), one
admin token among four user tokens: posts, authors, interactions, interaction-users. Club 2: a 50,000-post
wall with no engagement: posts only. Every HTTP request to the emulator counts (admin checks and retries
included). The minimum is ceil(API calls a complete fetch needs / 25); the wall lists must be within 10%.
The profile lists print VK's 5 MB answer cap too: ~350 bytes a profile fit about 14,000 in one execute.
"""

import math
import time

import pytest

from leadops.jobs import create_job
from tests.emulators.vk import VkEmulator
from tests.emulators.vk_wall import build_wall, install_wall
from vk_sync.client import VkClient
from vk_sync.models import VkAuthor, VkCommunity, VkInteraction, VkPost, VkToken
from vk_sync.services.authors import sync_authors
from vk_sync.services.interactions import refresh_interaction_users, sync_interactions
from vk_sync.services.posts import sync_posts

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]
EXECUTE_BYTES = 5 * 1024 * 1024
PROFILE_BYTES = 350


def bench_wall_lists_against_the_execute_minimum(settings):
    with VkEmulator() as vk:
        settings.VK_API_URL = vk.url
        for n in range(4):
            vk.add_token(f"bench-wall-token-{n}", "user", label=f"bench-wall-{n}", admin={1: 3} if n == 0 else None)
            VkToken.objects.create(kind="user", label=f"bench-wall-{n}", token=f"bench-wall-token-{n}")
        wall = install_wall(vk)
        engaged = build_wall(wall, 1, posts=2500, engaged=1.0, seed=11)
        big = build_wall(wall, 2, posts=50_000, engaged=0.0, seed=12)
        for group in (1, 2):
            VkCommunity.objects.create(id=group, name=f"Wall {group}")

        def measure(label, service, group, minimum, *, gated=True, note=""):
            before, executes = sum(vk.requests.values()), vk.executes
            began = time.perf_counter()
            job = create_job(kind=f"vk-{label}")
            counts = service(community_id=group, job_id=job.pk, client=VkClient.from_db())
            took = time.perf_counter() - began
            requests = sum(vk.requests.values()) - before
            ratio = requests / max(minimum, 1)
            print(
                f"\n[bench] vk club{group} {label}: {requests} requests ({vk.executes - executes} executes) vs "
                f"minimum {minimum}: ratio {ratio:.2f}{' (target <= 1.10)' if gated else ''}; {took:.1f} s{note}"
            )
            if gated:
                assert ratio <= 1.10, f"{label}: {requests} requests for a minimum of {minimum}"
            return counts

        pages = big.pages()
        measure("posts", sync_posts, 2, math.ceil(pages["posts"] / 25))
        assert VkPost.objects.filter(community_id=2).count() == 50_000

        pages = engaged.pages()
        measure("posts", sync_posts, 1, math.ceil(pages["posts"] / 25))
        authors = len(engaged.authors())
        measure("authors", sync_authors, 1, math.ceil(authors / 1000 / 25), note=f"; {authors} authors")
        assert VkAuthor.objects.filter(community_id=1).count() == authors

        calls = pages["likes"] + pages["comments"] + pages["reposts"]
        counts = measure(
            "interactions",
            sync_interactions,
            1,
            math.ceil(calls / 25),
            note=f"; {calls} calls ({pages['likes']} likes, {pages['comments']} comments, {pages['reposts']} "
            f"reposts pages)",
        )
        print(f"[bench] inside the executes: {counts_line(vk)}")
        assert VkInteraction.objects.count() == len(engaged.interactions())
        assert counts["pages_failed"] == 0

        people = counts["users"]
        by_size = math.ceil(people * PROFILE_BYTES / EXECUTE_BYTES)
        # Profiles are bounded by VK's 5 MB answer before the 25-call limit: 25,000 full profiles do not
        # fit one execute, so the minimum is whichever bound is higher (profiles asks 10,000 a time).
        measure(
            "interaction-users",
            refresh_interaction_users,
            1,
            max(math.ceil(people / 1000 / 25), by_size),
            note=f"; {people} profiles: the 25-call limit allows {math.ceil(people / 1000 / 25)} executes, "
            f"VK's 5 MB answer cap no fewer than {by_size}",
        )


def counts_line(vk) -> str:
    return ", ".join(f"{vk.subcalls[m]} {m}" for m in ("likes.getList", "wall.getComments", "wall.getReposts"))
