"""Post sync: every post on a community's wall (or every post since a date), and who wrote them.

1. One `execute` runs up to 25 x `wall.get` (100 posts each, newest first): 2,500 posts per request.
   The first execute goes out blind (offsets 0..2,400); the `count` it brings back plans the rest,
   which run over the token pool in parallel (chunks.run_chunks: fallback to the next token,
   halving on error 13, a slow retry at the end). A wall that grew meanwhile gets its tail fetched.
   Posts heavy enough for VK to refuse 2,500 at once (error 13, over 5 MB) make the later executes
   ask for half as many pages.
2. With `since`, executes go in waves of one per usable token and stop once older posts begin; the
   VKScript itself stops at the first page that reaches past `since` (a pinned post does not count).
3. Pages that failed inside an execute (`false`) or on every token go again, until a round brings
   nothing new three times. Fewer than VK_SAFETY_THRESHOLD x expected posts: nothing is written.
4. VkPost rows are upserted set-based. Authors are collected on the fly (post_author_data.author,
   signer_id, created_by, from_id > 0): VkUser ids, then VkAuthor rows recomputed for the community
   (authors.recompute_authors). Their profiles are the `authors` list (authors.sync_authors).

VkPost has no column of its own for post_author_data.author: it is kept in signer_id when VK gave no
signer (both name the user who wrote a community's post).
"""

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from leadops.jobs import JobReporter, track_job

from ..client import ResponseTooBig, TokenHandle, VkClient
from ..models import VkCommunity, VkPost
from .authors import author_ids, recompute_authors
from .chunks import Chunk, run_chunks
from .lastsync import record_sync
from .subscribers import SyncAborted

PAGE = 100  # wall.get maximum
CALLS_PER_EXECUTE = 25
IDLE_ROUNDS = 3  # rounds in a row that fetch nothing new before the missing pages are given up
UPDATED = [
    "date",
    "text",
    "from_id",
    "signer_id",
    "created_by",
    "photo_url",
    "likes_count",
    "comments_count",
    "reposts_count",
    "views_count",
]

POSTS_CODE = """var offsets = %(offsets)s;
var since = %(since)d;
var out = [];
var i = 0;
while (i < offsets.length) {
  var r = API.wall.get({"owner_id": %(owner)d, "offset": offsets[i], "count": %(page)d});
  if (r) {
    out.push({"o": offsets[i], "c": r.count, "i": r.items});
    var n = r.items.length;
    if (n == 0) {
      i = offsets.length;
    } else {
      var last = r.items[n - 1];
      if (since > 0 && last.date < since && last.is_pinned != 1) {
        i = offsets.length;
      }
    }
  } else {
    out.push({"o": offsets[i], "c": -1, "i": []});
  }
  i = i + 1;
}
return out;"""


@dataclass
class FetchedPosts:
    pages: dict[int, list[dict]] = field(default_factory=dict)  # offset -> items
    count: int = 0  # the wall's size, the largest VK reported
    cutoff: int | None = None  # with `since`: offset of the first page holding an older (unpinned) post
    missing: list[int] = field(default_factory=list)  # offsets no token could fetch
    requests: int = 0
    tokens: set[str] = field(default_factory=set)
    per_execute: int = CALLS_PER_EXECUTE  # wall.get calls per execute; less once VK found an answer too big

    def needed(self) -> list[int]:
        end = self.count if self.cutoff is None else min(self.count, self.cutoff + PAGE)
        return list(range(0, end, PAGE))

    def posts(self, since: int = 0) -> dict[int, dict]:
        """Unique posts by id (a wall that shifted while we read it repeats some), dated `since` or later."""
        out = {}
        for offset in sorted(self.pages):
            if self.cutoff is not None and offset > self.cutoff:
                continue
            for item in self.pages[offset]:
                if item.get("date", 0) >= since:
                    out.setdefault(int(item["id"]), item)
        return out


def _timestamp(since: datetime | date | None) -> int:
    if since is None:
        return 0
    if not isinstance(since, datetime):
        since = timezone.make_aware(datetime.combine(since, time.min))
    elif timezone.is_naive(since):
        since = timezone.make_aware(since)
    return int(since.timestamp())


def fetch_posts(client: VkClient, community_id: int, *, since: int = 0, job: JobReporter | None = None):
    fetched = FetchedPosts()

    def fetch(client: VkClient, token: TokenHandle, chunk: Chunk):
        code = POSTS_CODE % {
            "offsets": json.dumps(list(chunk.key)),
            "since": since,
            "owner": -community_id,
            "page": PAGE,
        }
        try:
            response, _errors = client.execute(code, token=token)
        except ResponseTooBig:  # heavy posts: run_chunks halves this one, and later executes ask for less
            fetched.per_execute = min(fetched.per_execute, max(1, len(chunk.key) // 2))
            raise
        return response or []

    def done(chunk: Chunk, pages: list[dict]):
        if job:
            job.advance(sum(1 for page in pages if page["c"] >= 0))

    todo = list(range(0, PAGE * CALLS_PER_EXECUTE, PAGE))  # blind: the first answer says how many there are
    idle = 0
    first = True
    while todo and idle < IDLE_ROUNDS:
        size = fetched.per_execute
        chunks = [Chunk(tuple(todo[i : i + size])) for i in range(0, len(todo), size)]
        if since and not first:
            chunks = chunks[: max(1, len(client.usable_tokens()))]  # a wave: stop as soon as older posts begin
        run = run_chunks(client, chunks, fetch, on_done=done)
        fetched.requests += run.requests
        fetched.tokens |= run.tokens_used
        before = len(fetched.pages)
        for _chunk, pages in run.results:
            for page in pages:
                if page["c"] < 0:
                    continue
                fetched.pages[page["o"]] = page["i"]
                fetched.count = max(fetched.count, page["c"])
                older = since and any(p["date"] < since and p.get("is_pinned") != 1 for p in page["i"])
                if older and (fetched.cutoff is None or page["o"] < fetched.cutoff):
                    fetched.cutoff = page["o"]
        if first and job:
            job.set_total(len(fetched.needed()))
            job.job.progress_done = sum(1 for o in fetched.needed() if o in fetched.pages)
        first = False
        idle = 0 if len(fetched.pages) > before else idle + 1
        if fetched.pages:
            todo = [o for o in fetched.needed() if o not in fetched.pages]
        # else: not one page came back, so the wall's size is still unknown: the blind execute again
    fetched.missing = todo
    return fetched


def _photo_url(item: dict) -> str:
    for attachment in item.get("attachments") or []:
        if attachment.get("type") != "photo":
            continue
        photo = attachment.get("photo") or {}
        sizes = [s for s in photo.get("sizes") or [] if s.get("url")]
        if sizes:
            return max(sizes, key=lambda s: (s.get("width") or 0) * (s.get("height") or 0))["url"][:500]
        if (photo.get("orig_photo") or {}).get("url"):
            return photo["orig_photo"]["url"][:500]
        legacy = sorted((k for k in photo if k.startswith("photo_") and k[6:].isdigit()), key=lambda k: int(k[6:]))
        if legacy:
            return str(photo[legacy[-1]])[:500]
    return ""


def _count(item: dict, name: str) -> int:
    value = item.get(name)
    return max(0, int(value.get("count") or 0)) if isinstance(value, dict) else 0


def post_row(community_id: int, item: dict) -> VkPost:
    signer = item.get("signer_id") or (item.get("post_author_data") or {}).get("author")
    return VkPost(
        community_id=community_id,
        post_id=int(item["id"]),
        date=datetime.fromtimestamp(int(item["date"]), UTC),
        text=item.get("text") or "",
        from_id=item.get("from_id"),
        signer_id=int(signer) if signer else None,
        created_by=item.get("created_by") or None,
        photo_url=_photo_url(item),
        likes_count=_count(item, "likes"),
        comments_count=_count(item, "comments"),
        reposts_count=_count(item, "reposts"),
        views_count=_count(item, "views"),
    )


def sync_posts(
    *, community_id: int, job_id: int, since: datetime | date | None = None, client: VkClient | None = None
) -> dict:
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db(community=community)
    stamp = _timestamp(since)
    with track_job(job_id) as job:
        job.log(f"{community}: fetching {'every post' if not stamp else f'the posts since {since}'}")
        fetched = fetch_posts(client, community.id, since=stamp, job=job)
        if not fetched.pages:
            record_sync(community.id, "posts", "aborted", {"requests": fetched.requests})
            raise SyncAborted(f"{community}: no page of the wall could be fetched with any token: nothing was changed")
        posts = fetched.posts(stamp)
        # With `since` the wall's count says nothing: what the pages no token could fetch would have held.
        lost = sum(min(PAGE, fetched.count - o) for o in fetched.missing)
        expected = len(posts) + lost if stamp else fetched.count
        counts = {
            "fetched": len(posts),
            "expected": expected,
            "wall_count": fetched.count,
            "pages_failed": len(fetched.missing),
            "requests": fetched.requests,
            "tokens_used": len(fetched.tokens),
        }
        job.job.counters.update(counts)
        if len(posts) < settings.VK_SAFETY_THRESHOLD * expected:
            record_sync(community.id, "posts", "aborted", counts)
            raise SyncAborted(
                f"fetched {len(posts)} of {expected} posts ({len(posts) / max(expected, 1):.1%}), under the "
                f"{settings.VK_SAFETY_THRESHOLD:.0%} safety threshold: nothing was changed"
            )
        rows = [post_row(community.id, item) for item in posts.values()]
        authors = {user for row in rows for user in author_ids(row)}
        with transaction.atomic():
            VkPost.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["community", "post_id"],
                update_fields=UPDATED,
                batch_size=1000,
            )
            author_counts = recompute_authors(community.id)
        counts.update(authors_seen=len(authors), **author_counts)
        job.job.counters.update(counts)
        result = "partial" if fetched.missing else "ok"
        if fetched.missing:
            job.log(f"{len(fetched.missing)} pages of posts could not be fetched with any token; run the sync again")
        record_sync(community.id, "posts", result, counts, since=since.isoformat() if since else None)
        job.log(f"{community}: {len(rows)} posts, {author_counts['authors']} authors")
        return counts
