"""Subscriber sync: who is in a community now, and who joined or left since last time.

1. Probe the count (one `groups.getMembers` with count=0).
2. Plan chunks: one `execute` of up to 25 x `groups.getMembers` (1,000 each, id order),
   i.e. up to 25,000 members per request.
3. Fetch them over the token pool (chunks.run_chunks: parallel, fallback, slow retry).
   If the count grew meanwhile, fetch the new tail too.
4. Refuse to change anything when fewer than VK_SAFETY_THRESHOLD x expected came back.
5. Apply set-based (membership_apply): joins, and leaves only inside id ranges that
   complete pages vouch for, so a short page never invents "left" events.
"""

import json
from dataclasses import dataclass, field

from django.conf import settings

from leadops.jobs import JobReporter, track_job

from ..client import TokenHandle, VkClient
from ..errors import ListIncomplete
from ..models import VkCommunity
from .chunks import Chunk, call_with_fallback, run_chunks
from .lastsync import record_sync
from .membership_apply import ApplyResult, apply_members, covered_ranges

PAGE = 1000  # groups.getMembers maximum
CALLS_PER_EXECUTE = 25  # VK's limit of API calls inside one execute

MEMBERS_CODE = """var g = %(group_id)d;
var offsets = %(offsets)s;
var out = [];
var i = 0;
while (i < offsets.length) {
  var r = API.groups.getMembers({"group_id": g, "offset": offsets[i], "count": %(page)d, "sort": "id_asc"});
  if (r) {
    out.push({"o": offsets[i], "c": r.count, "i": r.items});
  } else {
    out.push({"o": offsets[i], "c": -1, "i": []});
  }
  i = i + 1;
}
return out;"""


class SyncAborted(ListIncomplete):
    """The sync fetched too little to be trusted: nothing was changed."""


@dataclass
class Page:
    offset: int
    count: int  # the community's size as this page saw it
    items: list[int]

    @property
    def complete(self) -> bool:
        return self.count >= 0 and len(self.items) == max(0, min(PAGE, self.count - self.offset))


@dataclass
class Fetched:
    pages: dict[int, Page] = field(default_factory=dict)  # by offset
    failed_offsets: list[int] = field(default_factory=list)
    requests: int = 0
    tokens: set[str] = field(default_factory=set)

    def ids(self) -> set[int]:
        return {member for page in self.pages.values() for member in page.items}


def plan(offsets: list[int]) -> list[Chunk]:
    return [Chunk(tuple(offsets[i : i + CALLS_PER_EXECUTE])) for i in range(0, len(offsets), CALLS_PER_EXECUTE)]


def fetch_members(client: VkClient, community_id: int, offsets: list[int], job: JobReporter | None) -> Fetched:
    fetched = Fetched()
    chunks = plan(offsets)
    if job:
        job.set_total(len(chunks))

    def fetch(client: VkClient, token: TokenHandle, chunk: Chunk):
        code = MEMBERS_CODE % {"group_id": community_id, "offsets": json.dumps(list(chunk.key)), "page": PAGE}
        response, _errors = client.execute(code, token=token)
        return [Page(offset=r["o"], count=r["c"], items=r["i"]) for r in response or []]

    def done(chunk: Chunk, pages: list[Page]):
        if job:
            job.advance()

    run = run_chunks(client, chunks, fetch, on_done=done)
    fetched.requests += run.requests
    fetched.tokens |= run.tokens_used
    for _chunk, pages in run.results:
        for page in pages:
            if page.count >= 0:
                fetched.pages[page.offset] = page
    fetched.failed_offsets = sorted(
        {o for chunk, _ in run.failed for o in chunk.key} | {o for o in offsets if o not in fetched.pages}
    )
    return fetched


def sync_subscribers(*, community_id: int, job_id: int, client: VkClient | None = None) -> ApplyResult:
    community = VkCommunity.objects.get(pk=community_id)
    client = client or VkClient.from_db()
    with track_job(job_id) as job:
        expected = call_with_fallback(client, "groups.getMembers", {"group_id": community.id, "count": 0})["count"]
        job.log(f"{community}: {expected} members to fetch")
        offsets = list(range(0, expected, PAGE))
        fetched = fetch_members(client, community.id, offsets, job)
        # People joined while we fetched: the list grew at the end (id order puts most
        # new accounts there; anyone who landed in the middle shifted a boundary, which
        # the coverage rules below already treat as unknown).
        grown = max((page.count for page in fetched.pages.values()), default=expected)
        if grown > expected:
            tail = list(range(max(0, len(offsets) - 1) * PAGE, grown, PAGE))
            more = fetch_members(client, community.id, [o for o in tail if o not in fetched.pages], None)
            fetched.pages.update(more.pages)
            fetched.requests += more.requests
        members = fetched.ids()
        job.job.counters.update(
            requests=fetched.requests + 1,
            tokens_used=len(fetched.tokens),
            fetched=len(members),
            expected=expected,
            pages_failed=len(fetched.failed_offsets),
        )
        if len(members) < settings.VK_SAFETY_THRESHOLD * expected:
            _record(community, "aborted", {"fetched": len(members), "expected": expected})
            raise SyncAborted(
                f"fetched {len(members)} of {expected} members ({len(members) / max(expected, 1):.1%}), under the "
                f"{settings.VK_SAFETY_THRESHOLD:.0%} safety threshold: nothing was changed"
            )
        job.check_cancelled()  # the apply is one transaction: a cancel that came in meanwhile stops it here
        result = apply_members(
            community=community, members=members, covered=covered_ranges(fetched.pages.values()), job=job.job
        )
        community.members_count = len(members)
        _record(community, "ok", result.counts())
        job.job.counters.update(result.counts())
        job.log(f"{community}: {result.summary()}")
        return result


def _record(community: VkCommunity, result: str, counts: dict) -> None:
    """The list's last sync, for the admin and the dashboard."""
    VkCommunity.objects.filter(pk=community.pk).update(members_count=community.members_count)
    community.last_sync = {
        **community.last_sync,
        "subscribers": record_sync(community.pk, "subscribers", result, counts),
    }
