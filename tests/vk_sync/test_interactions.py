"""Interaction sync against the VK emulator's walls: exact likes, comments and reposts, in two phases."""

from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from leadops.jobs import create_job
from leadops.models import JobRun
from tests.emulators.vk_wall import build_wall, install_wall
from vk_sync.client import VkClient
from vk_sync.models import VkInteraction, VkPost, VkTokenCommunity, VkUser
from vk_sync.services.admin_tokens import admin_tokens
from vk_sync.services.interactions import refresh_interaction_users, sync_interactions
from vk_sync.services.posts import sync_posts

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wall(vk):
    return install_wall(vk)


@pytest.fixture
def world(vk, vk_tokens, vk_community, wall):
    """Three user tokens, community 1 with 2,500 posts (a twentieth engaged, plus the chosen ones), posts synced."""

    def make(*, admins=(0,), tokens=3):
        rows = vk_tokens(tokens)
        for n in admins:
            vk.tokens[rows[n].token].admin[1] = 3
        community, _ = vk_community(0)
        data = build_wall(wall, 1, posts=2500, engaged=0.05, seed=5, pool=8000)
        run(sync_posts, community)
        return community, data, rows

    return make


def run(service, community, **kwargs):
    job = create_job(kind="vk-interactions", target=str(community))
    result = service(community_id=community.pk, job_id=job.pk, client=VkClient.from_db(sleep=lambda s: None), **kwargs)
    job.refresh_from_db()
    return result, job


def stored(kind=None):
    rows = VkInteraction.objects.filter(kind=kind) if kind else VkInteraction.objects.all()
    return set(rows.values_list("post__post_id", "user_id", "kind", "comment_id"))


def on(post_id, kind):
    return VkInteraction.objects.filter(post__post_id=post_id, kind=kind).count()


def test_likes_comments_and_reposts_are_exact_with_an_admin_token(vk, world, wall):
    community, data, tokens = world(admins=(0,))
    before = vk.executes

    counts, job = run(sync_interactions, community)

    assert stored() == data.interactions()
    special = data.special
    assert on(special["likes_0"], "like") == 0
    assert on(special["likes_150"], "like") == 150  # an extended=1 scan would have stopped at 100
    assert on(special["likes_1000"], "like") == 1000
    assert on(special["likes_5000"], "like") == 5000  # and a community: 5,001 likes
    assert on(special["comments_250"], "comment") == 250 - 6  # six were the community's own
    assert on(special["reposts_1500"], "repost") == 1500 - 15  # fifteen reposts were communities'
    assert counts["pages_deep"] == 5 + 2 + 1 and counts["pages_failed"] == 0
    pages = data.pages()
    minimum = -(-(pages["likes"] + pages["comments"] + pages["reposts"]) // 25)
    assert vk.executes - before <= minimum + 4  # fast and deep scans, likes+comments and reposts apart
    assert job.status == JobRun.Status.SUCCEEDED
    assert not VkPost.objects.filter(interactions_synced_at__isnull=True).exists()
    assert VkTokenCommunity.objects.get(token=tokens[0], community=community).admin_level == 3
    assert VkTokenCommunity.objects.get(token=tokens[1], community=community).admin_level == 0
    community.refresh_from_db()
    assert community.last_sync["interactions"]["result"] == "ok"
    comment = VkInteraction.objects.filter(kind="comment").first()
    assert comment.at is not None and comment.comment_id > 0

    # A second sync after 300 more likes on the 150-like post (now in the 101-1,000 range): added, nothing twice.
    wall.like(1, special["likes_150"], list(range(9_000_000, 9_000_300)))
    run(sync_posts, community)
    run(sync_interactions, community)

    assert on(special["likes_150"], "like") == 450
    assert stored() == data.interactions()  # the emulator's posts are the dataset's: the 300 are in both


def test_without_an_admin_token_reposts_are_skipped_with_a_warning_and_profiles_follow(vk, world):
    community, data, _ = world(admins=())

    counts, job = run(sync_interactions, community)

    assert stored() == data.interactions(reposts=False)
    assert vk.subcalls["wall.getReposts"] == 0
    assert counts["reposts_skipped_posts"] > 0
    assert job.status == JobRun.Status.SUCCEEDED and "WARNING: reposts skipped" in job.log_tail
    community.refresh_from_db()
    assert community.last_sync["interactions"]["result"] == "partial"
    assert "no token administers" in community.last_sync["interactions"]["warnings"][0]

    # The interaction-users list: profiles of everyone found, then only of those still without details.
    people = {i[1] for i in data.interactions(reposts=False)}
    assert VkUser.objects.filter(id__in=people, details_refreshed_at__isnull=True).count() == len(people)
    counts, job = run(refresh_interaction_users, community)

    assert counts["failed"] == 0 and counts["requested"] == len(people)
    assert VkUser.objects.filter(id__in=people, details_refreshed_at__isnull=False).count() == len(people)
    community.refresh_from_db()
    assert community.last_sync["interaction-users"]["result"] == "ok"
    again, _ = run(refresh_interaction_users, community)
    assert again["requested"] == 0


def test_failures_are_retried_never_dropped(vk, world):
    community, data, tokens = world(admins=(0, 2))
    vk.fail_next(method="likes.getList", code=10, times=3)  # `false` inside executes: those pages go again
    vk.fail_next(method="wall.getComments", code=9, times=1)
    vk.fail_next(method="wall.getReposts", code=10, times=1)
    vk.fail_next(token=tokens[1].token, method="execute", code=9)  # flood control: token 1 rests an hour
    vk.fail_next(token=tokens[0].token, method="execute", code=6, times=2)  # retried on the same token
    vk.fail_next(token=tokens[2].token, method="execute", code=13, msg="Runtime error occurred during code invocation")

    counts, job = run(sync_interactions, community)

    assert stored() == data.interactions()
    assert counts["pages_failed"] == 0 and job.status == JobRun.Status.SUCCEEDED
    assert vk.errors_answered(10) == 4 and vk.errors_answered(9) == 2 and vk.errors_answered(13) == 1


def test_admin_checks_are_cached_and_a_token_vk_refuses_is_demoted(vk, world):
    community, data, tokens = world(admins=(1,))
    # The cache says token 0 administers the community; VK no longer agrees.
    VkTokenCommunity.objects.create(token=tokens[0], community=community, admin_level=3, checked_at=timezone.now())

    run(sync_interactions, community)

    assert stored("repost") == {i for i in data.interactions() if i[2] == "repost"}
    assert vk.requests["groups.getById"] == 2  # tokens 1 and 2 asked; token 0 came from the cache
    assert VkTokenCommunity.objects.get(token=tokens[0]).admin_level == 0  # demoted on VK's error 15
    assert VkTokenCommunity.objects.get(token=tokens[1]).admin_level == 3

    VkTokenCommunity.objects.filter(token=tokens[2]).update(checked_at=timezone.now() - timedelta(days=2))
    admins, requests = admin_tokens(VkClient.from_db(), community.pk)

    assert [t.label for t in admins] == ["token-1"] and requests == 1  # only the stale answer was asked again
    assert vk.requests["groups.getById"] == 3


def test_the_emulator_caps_pages_like_vk(vk, wall):
    vk.add_token("plain", "user", rps=1000)
    vk.add_token("admin", "user", rps=1000, admin={1: 3})
    data = build_wall(wall, 1, posts=10, engaged=0)

    def call(method, token="plain", **params):
        body = requests.post(vk.url + method, data={"access_token": token, "v": "5.199", **params}, timeout=10).json()
        return body.get("response", body.get("error"))

    post = data.special["likes_5000"]
    ids = call("likes.getList", type="post", owner_id=-1, item_id=post, count=1000, extended=0)
    objects = call("likes.getList", type="post", owner_id=-1, item_id=post, count=1000, extended=1)
    assert ids["count"] == objects["count"] == 5001 and len(ids["items"]) == 1000 and len(objects["items"]) == 100
    assert len(call("wall.get", owner_id=-1, count=500)["items"]) == 10
    assert len(call("wall.getComments", owner_id=-1, post_id=data.special["comments_250"], count=500)["items"]) == 100
    reposts = data.special["reposts_1500"]
    assert call("wall.getReposts", owner_id=-1, post_id=reposts, count=5000)["error_code"] == 15
    assert len(call("wall.getReposts", "admin", owner_id=-1, post_id=reposts, count=5000)["items"]) == 1000
