"""Post and author sync against the VK emulator's walls: exact posts, exact authors, faults that lose nothing."""

from datetime import UTC, datetime

import pytest

from leadops.jobs import create_job
from leadops.models import JobRun
from tests.emulators.vk import VkError
from tests.emulators.vk_wall import build_wall, install_wall
from vk_sync.client import VkClient
from vk_sync.models import VkAuthor, VkPost, VkUser
from vk_sync.services.authors import sync_authors
from vk_sync.services.posts import sync_posts
from vk_sync.services.subscribers import SyncAborted

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def wall(vk):
    return install_wall(vk)


def client():
    return VkClient.from_db(sleep=lambda s: None)


def run(service, community, **kwargs):
    job = create_job(kind="vk-posts", target=str(community))
    result = service(community_id=community.pk, job_id=job.pk, client=client(), **kwargs)
    job.refresh_from_db()
    return result, job


def stored_posts(community):
    return set(VkPost.objects.filter(community=community).values_list("post_id", flat=True))


def test_it_syncs_a_wall_of_2500_posts_exactly_in_one_execute(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=2500, engaged=0.2)

    counts, job = run(sync_posts, community)

    assert stored_posts(community) == data.post_ids()
    assert vk.executes == 1 and sum(vk.requests.values()) == 1  # 25 x wall.get of 100: the minimum
    assert counts["fetched"] == counts["expected"] == 2500
    assert job.status == JobRun.Status.SUCCEEDED and (job.progress_done, job.progress_total) == (25, 25)
    community.refresh_from_db()
    assert community.last_sync["posts"]["result"] == "ok"
    for post in data.posts[:40]:
        row = VkPost.objects.get(community=community, post_id=post.id)
        assert row.date == datetime.fromtimestamp(post.date, UTC) and row.text == post.text
        assert (row.likes_count, row.comments_count, row.views_count) == (
            len(post.likes),
            len(post.comments),
            post.views,
        )
        assert row.reposts_count == len(post.reposts) + post.mail_reposts
        assert row.photo_url == post.photo_url(-1) and row.from_id == post.from_id
        assert row.signer_id == (post.signer_id or post.author) and row.created_by == post.created_by
    authors = {a.user_id: (a.posts_count, a.first_post_at, a.last_post_at) for a in VkAuthor.objects.all()}
    assert authors == {
        user: (n, datetime.fromtimestamp(first, UTC), datetime.fromtimestamp(last, UTC))
        for user, (n, first, last) in data.authors().items()
    }


def test_a_wall_beyond_the_first_execute_is_fetched_in_parallel_to_the_last_post(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=6100, engaged=0)

    counts, job = run(sync_posts, community)

    assert stored_posts(community) == data.post_ids()  # the original stopped at 1,000
    assert vk.executes == 3  # ceil(6,100 / 2,500)
    assert (job.progress_done, job.progress_total) == (61, 61)


def test_since_stops_once_older_posts_begin_and_a_pinned_old_post_does_not_stop_it(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=2500, engaged=0, pinned=True)
    since = datetime.fromtimestamp(data.posts[700].date, UTC)

    counts, job = run(sync_posts, community, since=since)

    assert stored_posts(community) == {p.id for p in data.posts[:701]}  # the pinned oldest post is left out
    assert vk.executes == 1 and vk.subcalls["wall.get"] == 8  # pages 0-7: the VKScript stopped there
    community.refresh_from_db()
    assert community.last_sync["posts"]["since"] == since.isoformat()


def test_failures_inside_and_of_whole_executes_still_end_with_exact_posts(vk, vk_tokens, vk_community, wall):
    tokens = vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=9000, engaged=0)
    vk.fail_next(method="wall.get", code=10, times=3)  # three pages come back `false` inside an execute
    vk.fail_next(token=tokens[1].token, code=9)  # flood control: that token rests, its chunk moves on
    vk.fail_next(token=tokens[2].token, method="execute", code=6, times=2)  # retried on the same token
    vk.fail_next(token=tokens[0].token, method="execute", code=13, msg="Runtime error occurred during code invocation")

    counts, job = run(sync_posts, community)

    assert stored_posts(community) == data.post_ids()
    assert counts["pages_failed"] == 0 and job.status == JobRun.Status.SUCCEEDED
    assert vk.errors_answered(10) == 3 and vk.errors_answered(9) == 1 and vk.errors_answered(6) == 2


def test_answers_too_big_for_vk_halve_this_execute_and_the_next_ones(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=6000, engaged=0)
    vk.execute_max_bytes = 1_200_000  # 2,500 of these posts are ~1.8 MB, 1,200 fit

    counts, _ = run(sync_posts, community)

    assert stored_posts(community) == data.post_ids()
    # the blind execute ran, was refused, and went again as 12 + 13 pages; then the other 35 pages 12 at a time
    assert vk.errors_answered(13) == 1 and vk.executes == 1 + 2 + 3


def test_a_sync_that_fetches_under_the_threshold_writes_nothing(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    build_wall(wall, 1, posts=6000, engaged=0)
    real = vk.methods["wall.get"]

    def broken_beyond_5000(params, token):
        if int(params.get("offset", 0)) >= 5000:
            raise VkError(10)
        return real(params, token)

    vk.register_method("wall.get", broken_beyond_5000)

    with pytest.raises(SyncAborted, match="fetched 5000 of 6000 posts .* nothing was changed"):
        run(sync_posts, community)

    assert not VkPost.objects.exists() and not VkAuthor.objects.exists()
    community.refresh_from_db()
    assert community.last_sync["posts"]["result"] == "aborted"
    assert JobRun.objects.get().status == JobRun.Status.FAILED


def test_a_second_sync_updates_counts_in_place(vk, vk_tokens, vk_community, wall):
    vk_tokens(2)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=300, engaged=0)
    run(sync_posts, community)
    wall.like(1, data.posts[10].id, [31, 32, 33])

    run(sync_posts, community)

    assert VkPost.objects.count() == 300
    assert VkPost.objects.get(post_id=data.posts[10].id).likes_count == 3


def test_the_authors_list_refreshes_every_authors_profile(vk, vk_tokens, vk_community, wall):
    vk_tokens(3)
    community, _ = vk_community(0)
    data = build_wall(wall, 1, posts=2500, engaged=0)
    run(sync_posts, community)
    executes = vk.executes

    counts, job = run(sync_authors, community)

    authors = set(data.authors())
    assert set(VkAuthor.objects.filter(community=community).values_list("user_id", flat=True)) == authors
    assert VkUser.objects.filter(id__in=authors, details_refreshed_at__isnull=False).count() == len(authors)
    assert counts["failed"] == 0 and counts["authors"] == len(authors)
    assert vk.executes - executes == 1  # a few hundred authors: one users.get execute
    community.refresh_from_db()
    assert community.last_sync["authors"]["result"] == "ok" and job.status == JobRun.Status.SUCCEEDED
