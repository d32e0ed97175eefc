"""Mailing sync: who has a conversation with the community (community tokens only).

1. Pick the community's own tokens: VK serves community messages to a community token only.
2. Read `messages.getConversations` (200 a call, newest first) by offset, 25 calls per
   `execute`, i.e. 5,000 conversations a request. The first request also tells the count;
   the rest go in parallel over the tokens (chunks.run_chunks: fallback, slow retry).
3. Keep user peers only (peer.type == "user"); each chunk is written as it arrives:
   VkUser names from the extended answer's `profiles` and VkDialog can_write /
   last_message_date, upserted on (community, user), so a known user is updated, never
   duplicated, and first_message_* (mailing_analysis) is left alone.
4. A checkpoint in `community.last_sync["mailing"]` (next_offset: every page below it is
   stored) is written after each chunk. A run that fails or dies leaves it; the next run
   resumes there, then re-reads the head of the list down to where the first run started,
   which catches conversations that moved to the top in between (a new message moves one).
   The same head re-read runs when the count changed during a run, and the tail is read
   when it grew.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone

from leadops.jobs import JobReporter, track_job

from ..client import NoUsableToken, TokenHandle, VkClient
from ..errors import ListIncomplete
from ..models import VkCommunity, VkDialog, VkTokenCommunity, VkUser
from .chunks import Chunk, run_chunks
from .gender import FIELDS as GENDER_FIELDS
from .gender import set_gender
from .lastsync import save_last_sync

log = logging.getLogger(__name__)

PAGE = 200  # messages.getConversations maximum
CALLS_PER_EXECUTE = 25
RETRY_ROUNDS = 2  # pages that failed inside an execute are asked again this many times
CLOCK_MARGIN = 300  # seconds: VK's clock and ours may disagree a little
FIELDS = "sex,photo_100,domain"
BASIC = ["first_name", "last_name", "deactivated", "is_closed", "can_access_closed"]
FULL = BASIC + ["sex", "photo", "domain"]  # a deactivated profile carries only the basic fields

PAGE_CODE = """  if (r) {
    var c = r.items@.conversation;
    out.push({"o": o, "c": r.count, "id": c@.peer@.id, "t": c@.peer@.type, "w": c@.can_write@.allowed,
              "d": r.items@.last_message@.date, "p": r.profiles});
  } else {
    out.push({"o": o, "c": -1});
  }"""

CONVERSATIONS_CODE = (
    """var g = %(group_id)d;
var offsets = %(offsets)s;
var out = [];
var i = 0;
while (i < offsets.length) {
  var o = offsets[i];
  var r = API.messages.getConversations({"group_id": g, "offset": o, "count": %(page)d, "extended": 1,
                                        "fields": "%(fields)s"});
"""
    + PAGE_CODE
    + """
  i = i + 1;
}
return out;"""
)

# Pages of the head of the list, until one reaches conversations older than `since`.
HEAD_CODE = (
    """var g = %(group_id)d;
var since = %(since)d;
var offsets = %(offsets)s;
var out = [];
var more = true;
var i = 0;
while (more && i < offsets.length) {
  var o = offsets[i];
  var r = API.messages.getConversations({"group_id": g, "offset": o, "count": %(page)d, "extended": 1,
                                        "fields": "%(fields)s"});
"""
    + PAGE_CODE
    + """
  if (!r) {
    more = false;
  } else {
    var n = r.items.length;
    if (n < %(page)d || r.items[n - 1].last_message.date < since) {
      more = false;
    }
  }
  i = i + 1;
}
return out;"""
)


class MailingIncomplete(ListIncomplete):
    """Some conversations could not be read: what was read is stored, the next run resumes."""


@dataclass
class Page:
    offset: int
    count: int  # the community's conversations as this page saw them; -1: the call failed
    peers: list[tuple[int, bool | None, int | None]] = field(default_factory=list)  # user id, can_write, date
    profiles: list[dict] = field(default_factory=list)
    size: int = 0  # conversations on the page, of any kind
    oldest: int | None = None  # the oldest last_message date on the page

    @classmethod
    def parse(cls, raw: dict) -> "Page":
        if raw.get("c", -1) < 0:
            return cls(offset=raw["o"], count=-1)
        ids, kinds, writable, dates = raw.get("id") or [], raw.get("t") or [], raw.get("w") or [], raw.get("d") or []
        peers = [
            (int(peer), None if can is None else bool(can), date)
            for peer, kind, can, date in zip(ids, kinds, writable, dates, strict=False)
            if kind == "user" and peer and int(peer) > 0
        ]
        known = [d for d in dates if d]
        return cls(
            offset=raw["o"],
            count=raw["c"],
            peers=peers,
            profiles=[p for p in raw.get("p") or [] if isinstance(p, dict) and p.get("id")],
            size=len(ids),
            oldest=min(known) if known else None,
        )


@dataclass
class Tally:
    conversations: int = 0  # read, of any kind (a page read twice counts twice)
    upserted: int = 0  # dialog writes
    new: int = 0  # dialogs not known before
    skipped: int = 0  # chat and community peers
    requests: int = 0
    tokens: set[str] = field(default_factory=set)

    def counts(self) -> dict:
        return {
            "conversations": self.conversations,
            "new": self.new,
            "updated": self.upserted - self.new,
            "skipped": self.skipped,
            "requests": self.requests,
            "tokens_used": len(self.tokens),
        }


def community_client(community: VkCommunity, client: VkClient | None) -> VkClient:
    """A client over the community's own tokens only: VK serves community messages to nothing else.

    A given client is narrowed (its user and service tokens, and community tokens of other
    communities, are left out); without one, they come from the database.
    """
    if client is None:
        narrowed = VkClient.from_db(kinds=("community",), community=community)
    else:
        linked = set(VkTokenCommunity.objects.filter(community=community).values_list("token_id", flat=True))
        tokens = [t for t in client.tokens if t.kind == "community" and (t.pk is None or t.pk in linked)]
        narrowed = VkClient(tokens, api_url=client.api_url, version=client.version, sleep=client.sleep)
    if not narrowed.tokens:
        raise NoUsableToken(f"{community}: no community token of this community; messages need one (add it as a token)")
    return narrowed


def _stamp(value: int | None) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if value else None


def store_pages(community_id: int, pages: list[Page]) -> tuple[int, int]:
    """Upsert the pages' users and dialogs; returns (dialogs, new dialogs)."""
    latest: dict[int, tuple[bool | None, int | None]] = {}
    for page in sorted(pages, key=lambda p: p.offset, reverse=True):  # the newest page wins a duplicate
        for user_id, can_write, date in page.peers:
            latest[user_id] = (can_write, date)
    if not latest:
        return 0, 0
    profiles = {int(p["id"]): p for page in pages for p in page.profiles}
    full, basic, bare = [], [], []
    for user_id in sorted(latest):
        data = profiles.get(user_id)
        if data is None:
            bare.append(VkUser(id=user_id))
            continue
        user = VkUser(
            id=user_id,
            first_name=str(data.get("first_name", ""))[:255],
            last_name=str(data.get("last_name", ""))[:255],
            deactivated=str(data.get("deactivated", ""))[:32],
            is_closed=data.get("is_closed"),
            can_access_closed=data.get("can_access_closed"),
        )
        if "photo_100" in data or "sex" in data:
            user.sex = data.get("sex")
            user.photo = str(data.get("photo_100", ""))[:500]
            user.domain = str(data.get("domain") or data.get("screen_name") or "")[:128]
            full.append(set_gender(user))
        else:
            basic.append(user)  # gender "": without the sex here, refresh_genders redoes it from the row
    for users, fields in ((full, FULL + GENDER_FIELDS), (basic, BASIC + ["gender"])):
        if users:
            VkUser.objects.bulk_create(users, update_conflicts=True, unique_fields=["id"], update_fields=fields)
    if bare:
        VkUser.objects.bulk_create(bare, ignore_conflicts=True)
    known = set(
        VkDialog.objects.filter(community_id=community_id, user_id__in=list(latest)).values_list("user_id", flat=True)
    )
    VkDialog.objects.bulk_create(
        [
            VkDialog(community_id=community_id, user_id=user_id, can_write=can_write, last_message_date=_stamp(date))
            for user_id, (can_write, date) in sorted(latest.items())
        ],
        update_conflicts=True,
        unique_fields=["community", "user"],
        update_fields=["can_write", "last_message_date"],
    )
    return len(latest), len(latest) - len(known & set(latest))


class _Checkpoint:
    """last_sync["mailing"]: every page below next_offset is stored. Written after each chunk."""

    def __init__(self, community: VkCommunity, start: int, started_at: int, resumed: bool):
        self.community_id = community.pk
        self.start = start
        self.started_at = started_at
        self.resumed = resumed
        self.done: set[int] = set()
        self.lock = threading.Lock()
        self.next_offset = start

    def pages_done(self, offsets: list[int], tally: Tally) -> None:
        with self.lock:
            self.done.update(offsets)
            moved = False
            while self.next_offset in self.done:
                self.next_offset += PAGE
                moved = True
            if moved:
                self.write("running", tally.counts())

    def write(self, result: str, counts: dict, *, finished: bool = False) -> None:
        entry = {"at": timezone.now().isoformat(), "result": result, "counts": counts}
        if not finished:
            entry.update(next_offset=self.next_offset, started_at=self.started_at)
        save_last_sync(self.community_id, "mailing", entry)


def sync_mailing(*, community_id: int, job_id: int, client: VkClient | None = None) -> dict:
    community = VkCommunity.objects.get(pk=community_id)
    with track_job(job_id) as job:
        client = community_client(community, client)
        previous = community.last_sync.get("mailing") or {}
        resumed = previous.get("result") != "ok" and isinstance(previous.get("next_offset"), int)
        start = previous["next_offset"] if resumed else 0
        started_at = int(previous.get("started_at") or time.time()) if resumed else int(time.time())
        checkpoint = _Checkpoint(community, start, started_at, resumed)
        job.log(
            f"{community}: resuming the conversations at offset {start}" if resumed else f"{community}: conversations"
        )
        tally = Tally()
        try:
            missing = _fetch(client, community.pk, checkpoint, tally, job)
        except Exception:
            checkpoint.write("failed", tally.counts())
            raise
        counts = {**tally.counts(), "dialogs": VkDialog.objects.filter(community=community).count()}
        if resumed:
            counts["resumed_from"] = start
        job.job.counters.update(counts)
        if missing:
            checkpoint.write("failed", counts)
            raise MailingIncomplete(
                f"{len(missing)} pages of conversations could not be read with any token (from offset {missing[0]}); "
                f"what was read is stored and the next run resumes at offset {checkpoint.next_offset}"
            )
        checkpoint.write("ok", counts, finished=True)
        job.log(
            f"{community}: {counts['dialogs']} dialogs ({tally.new} new, {counts['updated']} updated), "
            f"{tally.skipped} chats / communities skipped, {tally.requests} requests"
        )
        return counts


class HeadChunk(Chunk):
    """Head pages: the execute stops at the first page reaching older conversations. Halves read every page."""


def _fetch(client: VkClient, community_id: int, checkpoint: _Checkpoint, tally: Tally, job: JobReporter) -> list[int]:
    """Read everything from checkpoint.start (then the head if needed); returns the pages that still failed."""
    lock = threading.Lock()
    write_lock = threading.Lock()
    seen: dict[int, int] = {}  # page offset -> the count it saw
    failed: set[int] = set()  # page offsets not read (yet)
    given_up: set[int] = set()  # ... of chunks that failed on every token
    head_round: dict[int, Page] | None = None  # pages of the current head round

    def fetch(client: VkClient, token: TokenHandle, chunk: Chunk) -> list[Page]:
        values = {"group_id": community_id, "offsets": json.dumps(list(chunk.key)), "page": PAGE, "fields": FIELDS}
        if isinstance(chunk, HeadChunk):
            code = HEAD_CODE % {**values, "since": checkpoint.started_at - CLOCK_MARGIN}
        else:
            code = CONVERSATIONS_CODE % values
        response, _errors = client.execute(code, token=token)
        return [Page.parse(raw) for raw in response or []]

    def done(chunk: Chunk, pages: list[Page]) -> None:
        good = [p for p in pages if p.count >= 0]
        try:
            with write_lock:  # one writer at a time: SQLite allows no more, and PostgreSQL has no deadlocks to fear
                upserted, new = store_pages(community_id, good)
        except Exception:  # a worker thread must not lose a chunk silently: it counts as not read
            log.exception("vk mailing: storing pages %s failed", [p.offset for p in pages])
            with lock:
                failed.update(p.offset for p in pages)
            return
        with lock:
            tally.conversations += sum(p.size for p in good)
            tally.skipped += sum(p.size - len(p.peers) for p in good)
            tally.upserted += upserted
            tally.new += new
            for page in pages:
                if page.count < 0:
                    failed.add(page.offset)
                else:
                    seen[page.offset] = page.count
                    failed.discard(page.offset)
                    if head_round is not None:
                        head_round[page.offset] = page
        if head_round is None:
            with write_lock:
                checkpoint.pages_done([p.offset for p in good], tally)
            job.advance(sum(p.size for p in good))

    def run(chunks: list[Chunk]) -> None:
        result = run_chunks(client, chunks, fetch, on_done=done, sleep=client.sleep)
        tally.requests += result.requests
        tally.tokens |= result.tokens_used
        for chunk, _reason in result.failed:
            failed.update(chunk.key)
            given_up.update(chunk.key)

    def run_pages(offsets: list[int]) -> None:
        run([Chunk(tuple(offsets[i : i + CALLS_PER_EXECUTE])) for i in range(0, len(offsets), CALLS_PER_EXECUTE)])
        retry_inner()

    def retry_inner() -> None:
        """Pages that failed inside an execute, again. Chunks run_chunks gave up on (every token, also
        slowly) are not hammered once more: the run fails and the next one resumes."""
        for _ in range(RETRY_ROUNDS):
            retry = sorted(failed - given_up)
            if not retry:
                return
            run([Chunk(tuple(retry[i : i + CALLS_PER_EXECUTE])) for i in range(0, len(retry), CALLS_PER_EXECUTE)])

    start = checkpoint.start
    first = [start + PAGE * k for k in range(CALLS_PER_EXECUTE)]
    run_pages(first)  # also tells how many there are
    if not seen:
        return sorted(failed) or first
    count = max(seen.values())
    job.set_total(max(0, count - start))
    end = first[-1] + PAGE
    run_pages(list(range(end, count, PAGE)))
    end = max(end, start + -(-(count - start) // PAGE) * PAGE)
    grown = max(seen.values())
    if grown > end:  # new conversations pushed old ones past the planned end
        run_pages(list(range(end, grown, PAGE)))
    if failed:
        return sorted(failed)
    if not checkpoint.resumed and len(set(seen.values())) == 1:
        return []
    # Conversations that got a message since this run (or the one it resumes) started moved to the
    # top, maybe from pages not read yet: read the head down to that moment.
    since = checkpoint.started_at - CLOCK_MARGIN
    offset = 0
    while True:
        head_round = {}
        offsets = [offset + PAGE * k for k in range(CALLS_PER_EXECUTE)]
        run([HeadChunk(tuple(offsets))])
        retry_inner()
        if failed:
            return sorted(failed)
        last = head_round[max(head_round)] if head_round else None
        if last is None or last.size < PAGE or (last.oldest or 0) < since:
            return []
        offset = last.offset + PAGE
