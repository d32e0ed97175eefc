"""Authors: the people who wrote a community's posts, and their profiles.

A post's authors are its signer_id (post_author_data.author is stored there when VK gave no signer),
created_by (the administrator who published it) and from_id when it is a user (a suggested post
published under its author's name). VkAuthor rows (posts_count, first and last post) are recomputed
from all the community's VkPost rows, so they stay exact however the posts were synced (all, or only
since a date). The `authors` list job then refreshes their profiles with profiles.refresh_profiles.
"""

from django.db import transaction

from leadops.jobs import track_job

from ..client import VkClient
from ..models import VkAuthor, VkCommunity, VkPost, VkUser
from .lastsync import record_sync
from .profiles import refresh_profiles


def author_ids(post: VkPost) -> set[int]:
    return _authors(post.signer_id, post.created_by, post.from_id)


def _authors(*candidates) -> set[int]:
    return {int(user) for user in candidates if user and user > 0}


def recompute_authors(community_id: int) -> dict:
    """VkAuthor rows of the community from its posts: created, updated, and removed for non-authors."""
    stats: dict[int, list] = {}  # user -> [posts, first, last]
    rows = VkPost.objects.filter(community_id=community_id).values_list("signer_id", "created_by", "from_id", "date")
    for signer_id, created_by, from_id, date in rows.iterator(chunk_size=5000):
        for user in _authors(signer_id, created_by, from_id):
            entry = stats.get(user)
            if entry is None:
                stats[user] = [1, date, date]
            else:
                entry[0] += 1
                entry[1] = min(entry[1], date)
                entry[2] = max(entry[2], date)
    with transaction.atomic():
        VkUser.objects.bulk_create([VkUser(id=user) for user in stats], ignore_conflicts=True, batch_size=2000)
        VkAuthor.objects.bulk_create(
            [
                VkAuthor(community_id=community_id, user_id=user, posts_count=n, first_post_at=first, last_post_at=last)
                for user, (n, first, last) in stats.items()
            ],
            update_conflicts=True,
            unique_fields=["community", "user"],
            update_fields=["posts_count", "first_post_at", "last_post_at"],
            batch_size=2000,
        )
        gone = [
            user
            for user in VkAuthor.objects.filter(community_id=community_id).values_list("user_id", flat=True)
            if user not in stats
        ]
        removed = VkAuthor.objects.filter(community_id=community_id, user_id__in=gone).delete()[0] if gone else 0
    return {"authors": len(stats), "authors_removed": removed}


def sync_authors(*, community_id: int, job_id: int, client: VkClient | None = None) -> dict:
    """The `authors` list: VkAuthor rows recomputed from the posts, then every author's profile."""
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db(community=community)
    with track_job(job_id) as job:
        counts = recompute_authors(community.id)
        ids = list(VkAuthor.objects.filter(community_id=community.id).values_list("user_id", flat=True))
        job.log(f"{community}: refreshing the profiles of {len(ids)} authors")
        if ids:
            counts.update(refresh_profiles(user_ids=ids, client=client, job=job))
        else:
            counts.update(requested=0, failed=0, requests=0)
        job.job.counters.update(counts)
        record_sync(community.id, "authors", "partial" if counts["failed"] else "ok", counts)
        return counts
