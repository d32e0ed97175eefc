"""Interactions: who liked, commented on and reposted a community's posts, in two phases.

A page is one API call: ("l", post, offset) likes.getList (extended=0, 1,000 ids: with extended=1 VK
gives at most 100), ("c", post, offset) wall.getComments (100), ("r", post, offset) wall.getReposts
(1,000). Pages are packed 25 to an `execute`, whatever post they belong to.

1. Fast scan: the first page of every kind a post has (the counts of the last posts sync; a kind with
   count 0 costs nothing).
2. Deep scan: a post whose answer says there is more (likes.getList / wall.getComments `count`, a full
   page of reposts, which VK does not count) gets its remaining pages queued; they run in the next
   rounds, packed the same way, until nothing is left.
Pages that failed inside an execute (`false`) or on every token go back into the queue: never dropped,
given up only after three rounds in a row fetched nothing, and then reported (the JobRun's log, the
`pages_failed` counter, result "partial"); their posts keep interactions_synced_at unset (posts whose
reposts were skipped for want of an admin token get it: their likes and comments are complete).

Reposts: only with tokens of admin level >= 3 in the community (admin_tokens, cached in
VkTokenCommunity). With none, reposts are skipped and the JobRun says so; likes and comments are not.

Rows are written as each execute lands (bulk, set-based): VkUser ids first (ignore_conflicts), then
VkInteraction with ignore_conflicts on (post, user, kind, comment). Interactions are only ever added.
Profiles of the people found are the `interaction-users` list (refresh_interaction_users).
"""

import json
import logging
import threading
from collections import Counter
from datetime import UTC, datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from leadops.jobs import JobReporter, track_job

from ..client import NoUsableToken, PermanentVkError, TokenHandle, VkClient
from ..models import VkCommunity, VkInteraction, VkPost, VkUser
from .admin_tokens import admin_tokens, demote
from .chunks import Chunk, run_chunks
from .lastsync import record_sync
from .profiles import refresh_profiles

log = logging.getLogger(__name__)

CALLS_PER_EXECUTE = 25
PAGE = {"l": 1000, "c": 100, "r": 1000}
KIND = {"l": VkInteraction.Kind.LIKE, "c": VkInteraction.Kind.COMMENT, "r": VkInteraction.Kind.REPOST}
IDLE_ROUNDS = 3

INTERACTIONS_CODE = """var calls = %(calls)s;
var owner = %(owner)d;
var out = [];
var i = 0;
while (i < calls.length) {
  var c = calls[i];
  var r = false;
  if (c[0] == "l") {
    r = API.likes.getList({"type": "post", "owner_id": owner, "item_id": c[1], "filter": "likes",
                           "extended": 0, "offset": c[2], "count": 1000});
    if (r) {
      r = [r.count, r.items];
    }
  } else if (c[0] == "c") {
    r = API.wall.getComments({"owner_id": owner, "post_id": c[1], "offset": c[2], "count": 100,
                              "sort": "asc", "preview_length": 1});
    if (r) {
      r = [r.current_level_count, r.items@.id, r.items@.from_id, r.items@.date, r.count];
    }
  } else {
    r = API.wall.getReposts({"owner_id": owner, "post_id": c[1], "offset": c[2], "count": 1000});
    if (r) {
      r = [r.items.length, r.items@.from_id, r.items@.date];
    }
  }
  out.push(r);
  i = i + 1;
}
return out;"""

Page = tuple[str, int, int]  # kind, post id, offset


def _at(stamp) -> datetime | None:
    return datetime.fromtimestamp(int(stamp), UTC) if stamp else None


class Scan:
    """The pages of one sync: planned, queued, done; and what each answer adds (thread-safe)."""

    def __init__(self, community_id: int, posts: dict[int, tuple], job: JobReporter | None):
        self.community_id = community_id
        self.posts = posts  # post id -> (pk, likes, comments, reposts) as the posts sync stored them
        self.job = job
        # State and writes, the JobRun's included: one worker thread at a time (SQLite's shared-cache
        # test database refuses a write while another connection writes).
        self.lock = threading.RLock()
        self.planned: set[Page] = set()
        self.queue: list[Page] = []
        self.done = 0
        self.fetched: Counter[str] = Counter()  # rows by kind, and pages by kind
        self.users: set[int] = set()  # VkUser ids this sync made sure of
        self.admins: set[str] = set()  # labels of the tokens that may read reposts
        self.denied: set[str] = set()  # admins VK refused reposts to after all (demoted)
        self.requests = 0  # executes sent

    def plan(self, pages) -> None:
        with self.lock:
            new = [p for p in pages if p not in self.planned]
            self.planned.update(new)
            self.queue.extend(new)
            if new and self.job:
                self.job.set_total(len(self.planned))

    def take(self) -> list[Page]:
        with self.lock:
            pages, self.queue = sorted(self.queue, key=lambda p: (p[0] == "r", p)), []
        return pages

    def retry(self, pages) -> None:
        with self.lock:
            self.queue.extend(pages)

    # --- one execute -----------------------------------------------------------
    def fetch(self, client: VkClient, token: TokenHandle, chunk: Chunk):
        if any(page[0] == "r" for page in chunk.key) and token.label not in self.admins - self.denied:
            # Not sent: run_chunks hands the chunk on, and an admin token runs it from this worker thread.
            raise PermanentVkError(15, f"token {token.label} does not administer club{self.community_id}", "execute")
        with self.lock:
            self.requests += 1
        calls = json.dumps([list(page) for page in chunk.key])
        response, errors = client.execute(
            INTERACTIONS_CODE % {"calls": calls, "owner": -self.community_id}, token=token
        )
        if any(e.get("error_code") == 15 and e.get("method") == "wall.getReposts" for e in errors):
            with self.lock:
                self.denied.add(token.label)
                demote(token, self.community_id)
            raise PermanentVkError(15, f"token {token.label} is no longer an admin here", "wall.getReposts")
        return response or []

    def landed(self, chunk: Chunk, answers: list) -> None:
        failed, follow, rows, users, tally = [], [], {}, set(), Counter()
        for page, answer in zip(chunk.key, answers, strict=False):
            if not answer:  # that call failed inside the execute
                failed.append(page)
                continue
            kind, post_id, offset = page
            pk = self.posts[post_id][0]
            if kind == "l":
                count, items = answer[0] or 0, answer[1] or []
                found = [(user, None, 0) for user in items if user and user > 0]
                follow += [(kind, post_id, o) for o in range(PAGE[kind], count, PAGE[kind])]
            elif kind == "c":
                level = answer[0] if answer[0] is not None else answer[4] or 0
                ids, froms, dates = answer[1] or [], answer[2] or [], answer[3] or []
                found = [(u, _at(d), int(c)) for c, u, d in zip(ids, froms, dates, strict=False) if u and u > 0]
                follow += [(kind, post_id, o) for o in range(PAGE[kind], level, PAGE[kind])]
            else:
                full, froms, dates = answer[0] or 0, answer[1] or [], answer[2] or []
                found = [(user, _at(d), 0) for user, d in zip(froms, dates, strict=False) if user and user > 0]
                if full >= PAGE[kind]:  # VK does not count reposts: a full page means there may be more
                    estimate = max(self.posts[post_id][3], offset + 2 * PAGE[kind])
                    follow += [(kind, post_id, o) for o in range(offset + PAGE[kind], estimate, PAGE[kind])]
            tally[f"pages_{KIND[kind]}"] += 1
            tally[f"{KIND[kind]}s"] += len(found)
            for user, at, comment in found:
                key = (pk, user, KIND[kind], comment)
                if key not in rows:
                    rows[key] = VkInteraction(post_id=pk, user_id=user, kind=KIND[kind], at=at, comment_id=comment)
                users.add(user)
        with self.lock:
            users -= self.users  # already written by an earlier execute of this sync
            try:  # ascending keys: two syncs inserting the same people take their row locks in one order
                VkUser.objects.bulk_create(
                    [VkUser(id=u) for u in sorted(users)], ignore_conflicts=True, batch_size=2000
                )
                VkInteraction.objects.bulk_create(
                    [rows[key] for key in sorted(rows)], ignore_conflicts=True, batch_size=2000
                )
            except DatabaseError as exc:  # the whole execute goes again next round
                log.warning(
                    "interactions of club%s: writing a batch failed (%s); fetching it again", self.community_id, exc
                )
                self.queue.extend(chunk.key)
                return
            self.users |= users
            self.done += len(chunk.key) - len(failed)
            self.fetched.update(tally)
            self.queue.extend(failed)
            if self.job:
                self.job.advance(len(chunk.key) - len(failed))
            self.plan(follow)


def _chunks(pages: list[Page]) -> list[Chunk]:
    return [Chunk(tuple(pages[i : i + CALLS_PER_EXECUTE])) for i in range(0, len(pages), CALLS_PER_EXECUTE)]


def _run_both(client: VkClient, first: list[Page], second: list[Page], scan: Scan) -> list:
    """Two streams of pages at once over one client: [(pages, ChunkRun | NoUsableToken | None)] for each.

    Likes and comments go to every token; chunks with reposts end up on the admin tokens (Scan.fetch
    hands them on), so the admins serve both streams, taking turns through the rate limiter.
    """
    out: list = [(first, None), (second, None)]

    def go(slot: int, pages: list[Page], own_thread: bool):
        try:
            if pages:
                out[slot] = (pages, run_chunks(client, _chunks(pages), scan.fetch, on_done=scan.landed))
        except NoUsableToken as exc:
            out[slot] = (pages, exc)
        finally:
            if own_thread:
                connection.close()  # run_chunks' slow retry writes from the thread that called it

    helper = threading.Thread(target=go, args=(1, second, True), daemon=True)
    helper.start()
    go(0, first, False)
    helper.join()
    return out


def scan_interactions(client: VkClient, community_id: int, job: JobReporter | None = None) -> dict:
    posts = {
        post_id: (pk, likes, comments, reposts)
        for pk, post_id, likes, comments, reposts in VkPost.objects.filter(community_id=community_id).values_list(
            "pk", "post_id", "likes_count", "comments_count", "reposts_count"
        )
    }
    scan = Scan(community_id, posts, job)
    counts: Counter[str] = Counter(posts=len(posts))
    warnings = []
    admins: list[TokenHandle] = []
    with_reposts = [post_id for post_id, (_, _, _, reposts) in posts.items() if reposts]
    if with_reposts:
        admins, counts["requests"] = admin_tokens(client, community_id)
        counts["admin_tokens"] = len(admins)
        if not admins:
            counts["reposts_skipped_posts"] = len(with_reposts)
            warnings.append(
                f"WARNING: reposts skipped on {len(with_reposts)} posts: no token administers club{community_id} "
                f"(wall.getReposts needs admin level 3); likes and comments were fetched"
            )
    fast = []
    for post_id, (_, likes, comments, reposts) in sorted(posts.items()):
        fast += [("l", post_id, 0)] if likes else []
        fast += [("c", post_id, 0)] if comments else []
        fast += [("r", post_id, 0)] if reposts and admins else []
    scan.admins = {t.label for t in admins}
    scan.plan(fast)
    counts["pages_fast"] = len(fast)
    missing: list[Page] = []
    idle = 0
    while pages := scan.take():
        if idle >= IDLE_ROUNDS:
            missing = pages
            break
        before = scan.done
        if admins and scan.admins <= scan.denied and any(p[0] == "r" for p in pages):
            skipped = {p[1] for p in pages if p[0] == "r"}
            warnings.append(f"WARNING: reposts of {len(skipped)} posts skipped: VK refused them to every token")
            counts["reposts_skipped_posts"] += len(skipped)
            pages = [p for p in pages if p[0] != "r"]
        streams = [[p for p in pages if p[0] != "r"], [p for p in pages if p[0] == "r"]]
        for (mine, run), reposts in zip(_run_both(client, *streams, scan), (False, True), strict=True):
            if isinstance(run, NoUsableToken):
                if not reposts:
                    raise run
                scan.retry(mine)  # every admin token rests: again next round, then reported
            elif run is not None:
                for chunk, _reason in run.failed:
                    scan.retry(chunk.key)
        idle = 0 if scan.done > before else idle + 1
    counts.update(scan.fetched)
    counts["requests"] += scan.requests
    counts["pages"] = len(scan.planned)
    counts["pages_deep"] = len(scan.planned) - len(fast)
    counts["pages_failed"] = len(missing)
    counts["warnings"] = warnings
    counts["incomplete_posts"] = sorted({p[1] for p in missing})
    return dict(counts)


def sync_interactions(*, community_id: int, job_id: int, client: VkClient | None = None) -> dict:
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db(community=community)
    with track_job(job_id) as job:
        job.log(f"{community}: scanning likes, comments and reposts (post counts as of the last posts sync)")
        try:
            counts = scan_interactions(client, community.id, job)
        except NoUsableToken as exc:
            record_sync(community.id, "interactions", "aborted", {"error": str(exc)})
            raise
        warnings, incomplete = counts.pop("warnings"), counts.pop("incomplete_posts")
        VkPost.objects.filter(community_id=community.id).exclude(post_id__in=incomplete).update(
            interactions_synced_at=timezone.now()
        )
        counts["users"] = (
            VkInteraction.objects.filter(post__community_id=community.id).values("user_id").distinct().count()
        )
        for warning in warnings:
            job.log(warning)
        if counts["pages_failed"]:
            job.log(
                f"WARNING: {counts['pages_failed']} pages on {len(incomplete)} posts could not be fetched with any "
                f"token; run the sync again"
            )
        job.job.counters.update(counts)
        result = "partial" if warnings or counts["pages_failed"] else "ok"
        record_sync(community.id, "interactions", result, counts, warnings=warnings)
        job.log(
            f"{community}: {counts.get('likes', 0)} likes, {counts.get('comments', 0)} comments, "
            f"{counts.get('reposts', 0)} reposts from {counts['users']} people"
        )
        return counts


def refresh_interaction_users(
    *, community_id: int, job_id: int, client: VkClient | None = None, everyone: bool = False
) -> dict:
    """Profiles of the people who interacted with the community's posts: those without details, or everyone."""
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db(community=community)
    with track_job(job_id) as job:
        people = VkInteraction.objects.filter(post__community_id=community.id).values_list("user_id", flat=True)
        ids = sorted(set(people.distinct()))
        if not everyone:  # in steps: one join over three big tables can get a bad plan on fresh statistics
            ids = [
                user
                for i in range(0, len(ids), 10_000)
                for user in VkUser.objects.filter(id__in=ids[i : i + 10_000], details_refreshed_at__isnull=True)
                .values_list("id", flat=True)
                .iterator()
            ]
        job.log(f"{community}: refreshing {len(ids)} profiles of people who interacted")
        counts = refresh_profiles(user_ids=ids, client=client, job=job) if ids else {"requested": 0, "failed": 0}
        job.job.counters.update(counts)
        record_sync(community.id, "interaction-users", "partial" if counts["failed"] else "ok", counts)
        return counts
