"""Mailing analysis: when each dialog began and who wrote first (community tokens only).

`messages.getHistory(peer_id, count=1, rev=1)` answers a conversation's first message; one
`execute` asks it for 20 users. Chunks go over the community's tokens in parallel (chunks.run_chunks),
the workers starting 0.35 s apart so their first requests do not land in the same second (VK error 6).
Error 6 at the top level is waited out by the client (0.4 s, 0.8, ...) and then the chunk moves to
another token; a call that failed inside an execute (false) is asked again in sequential rounds with a
pause, and chunks that failed on every token get run_chunks' slow sequential retry. Each chunk is written
as it arrives: first_message_date, first_message_from_id, analyzed_at.

Modes: "missing" (dialogs without first_message_date) and "all".
"""

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone

from leadops.jobs import JobReporter, track_job

from ..client import TokenHandle, VkClient
from ..errors import ListIncomplete
from ..models import VkCommunity, VkDialog
from .chunks import Chunk, run_chunks
from .mailing import community_client, save_last_sync

log = logging.getLogger(__name__)

PEERS_PER_EXECUTE = 20
STAGGER = 0.35  # seconds between worker starts
RETRY_ROUNDS = 3  # sequential rounds for calls that failed inside an execute
RETRY_PAUSE = 1.0  # seconds before each request of a sequential round
MODES = ("missing", "all")

HISTORY_CODE = """var g = %(group_id)d;
var peers = %(peers)s;
var out = [];
var i = 0;
while (i < peers.length) {
  var r = API.messages.getHistory({"group_id": g, "peer_id": peers[i], "count": 1, "rev": 1});
  if (r) {
    if (r.items.length > 0) {
      out.push({"p": peers[i], "n": r.count, "d": r.items[0].date, "f": r.items[0].from_id});
    } else {
      out.push({"p": peers[i], "n": r.count});
    }
  } else {
    out.push({"p": peers[i], "n": -1});
  }
  i = i + 1;
}
return out;"""


class AnalysisIncomplete(ListIncomplete):
    """Some dialogs could not be analysed: the rest is stored; mode "missing" picks them up."""


@dataclass
class Tally:
    dialogs: int = 0
    analyzed: int = 0  # first message found
    empty: int = 0  # no messages left in the conversation
    user_started: int = 0
    community_started: int = 0
    requests: int = 0
    tokens: set[str] = field(default_factory=set)

    def counts(self, failed: int) -> dict:
        return {
            "dialogs": self.dialogs,
            "analyzed": self.analyzed,
            "empty": self.empty,
            "failed": failed,
            "user_started": self.user_started,
            "community_started": self.community_started,
            "requests": self.requests,
            "tokens_used": len(self.tokens),
        }


class _Stagger:
    """Each token's first request waits its turn: 0, 0.35 s, 0.7 s, ... after the first."""

    def __init__(self, step: float, sleep):
        self.step = step
        self.sleep = sleep
        self.turns: dict[str, int] = {}
        self.lock = threading.Lock()

    def wait(self, token: TokenHandle) -> None:
        with self.lock:
            if token.label in self.turns:
                return
            turn = self.turns[token.label] = len(self.turns)
        if turn:
            self.sleep(turn * self.step)


def analyze_mailing(*, community_id: int, job_id: int, mode: str = "missing", client: VkClient | None = None) -> dict:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    community = VkCommunity.objects.get(pk=community_id)
    with track_job(job_id) as job:
        client = community_client(community, client)
        dialogs = VkDialog.objects.filter(community=community)
        if mode == "missing":
            dialogs = dialogs.filter(first_message_date__isnull=True)
        rows = dict(dialogs.order_by("user_id").values_list("user_id", "pk"))
        job.log(f"{community}: analysing {len(rows)} dialogs (mode {mode})")
        tally = Tally(dialogs=len(rows))
        failed = analyze(client, community.pk, rows, tally, job)
        counts = tally.counts(len(failed))
        job.job.counters.update(counts)
        result = "ok" if not failed else "partial"
        save_last_sync(
            community.pk,
            "mailing-analysis",
            {"at": timezone.now().isoformat(), "result": result, "mode": mode, "counts": counts},
        )
        if failed:
            raise AnalysisIncomplete(
                f"{len(failed)} of {len(rows)} dialogs could not be analysed with any token; the rest is stored "
                f'and a run in mode "missing" picks them up'
            )
        job.log(
            f"{community}: {tally.analyzed} first messages ({tally.user_started} by the user, "
            f"{tally.community_started} by the community), {tally.empty} empty, {tally.requests} requests"
        )
        return counts


def analyze(
    client: VkClient, community_id: int, rows: dict[int, int], tally: Tally, job: JobReporter | None = None
) -> list[int]:
    """Analyse the dialogs `rows` (user id -> VkDialog pk); returns the user ids that still failed."""
    ids = sorted(rows)
    lock = threading.Lock()
    write_lock = threading.Lock()
    failed: set[int] = set()
    stagger = _Stagger(STAGGER, client.sleep)
    if job:
        job.set_total(len(ids))

    def fetch(client: VkClient, token: TokenHandle, chunk: Chunk):
        stagger.wait(token)
        code = HISTORY_CODE % {"group_id": community_id, "peers": json.dumps(list(chunk.key))}
        response, _errors = client.execute(code, token=token)
        return response or []

    def done(chunk: Chunk, answers: list[dict]) -> None:
        now = timezone.now()
        found, empty, bad = [], [], set(chunk.key)
        for answer in answers:
            user_id, count = answer.get("p"), answer.get("n", -1)
            if user_id not in rows or count is None or count < 0:
                continue
            bad.discard(user_id)
            if answer.get("d"):
                first_from = answer.get("f")
                found.append(
                    VkDialog(
                        pk=rows[user_id],
                        first_message_date=datetime.fromtimestamp(answer["d"], UTC),
                        first_message_from_id=first_from,
                        analyzed_at=now,
                    )
                )
            else:
                empty.append(rows[user_id])
        try:
            with write_lock:  # one writer at a time: SQLite allows no more
                if found:
                    VkDialog.objects.bulk_update(found, ["first_message_date", "first_message_from_id", "analyzed_at"])
                if empty:
                    VkDialog.objects.filter(pk__in=empty).update(analyzed_at=now)
        except Exception:  # a worker thread must not lose a chunk silently: it counts as failed
            log.exception("vk mailing analysis: storing %s dialogs failed", len(chunk.key))
            with lock:
                failed.update(chunk.key)
            return
        with lock:
            failed.difference_update(set(chunk.key) - bad)
            failed.update(bad)
            tally.analyzed += len(found)
            tally.empty += len(empty)
            tally.user_started += sum(1 for d in found if (d.first_message_from_id or 0) > 0)
            tally.community_started += sum(1 for d in found if (d.first_message_from_id or 0) < 0)
        if job:
            job.advance(len(found) + len(empty))

    def account(run) -> None:
        tally.requests += run.requests
        tally.tokens |= run.tokens_used
        for chunk, _reason in run.failed:
            failed.update(chunk.key)

    chunks = [Chunk(tuple(ids[i : i + PEERS_PER_EXECUTE])) for i in range(0, len(ids), PEERS_PER_EXECUTE)]
    account(run_chunks(client, chunks, fetch, on_done=done, sleep=client.sleep))
    # Calls that failed inside an execute (error 6 there too), or chunks no token could do: again, one
    # request at a time with a pause, a few rounds.
    for _ in range(RETRY_ROUNDS):
        if not failed:
            break
        retry = sorted(failed)
        for i in range(0, len(retry), PEERS_PER_EXECUTE):
            chunk = Chunk(tuple(retry[i : i + PEERS_PER_EXECUTE]))
            with lock:
                failed.difference_update(chunk.key)
            account(_sequential(client, chunk, fetch, done))
    return sorted(failed)


@dataclass
class _Run:
    requests: int = 0
    tokens_used: set[str] = field(default_factory=set)
    failed: list[tuple[Chunk, str]] = field(default_factory=list)


def _sequential(client: VkClient, chunk: Chunk, fetch, done) -> _Run:
    """One chunk, token after token, RETRY_PAUSE before each request."""
    run = _Run()
    for token in client.usable_tokens():
        client.sleep(RETRY_PAUSE)
        run.requests += 1
        run.tokens_used.add(token.label)
        try:
            answers = fetch(client, token, chunk)
        except Exception as exc:  # VK errors and transient HTTP trouble alike: the next token
            log.info("vk mailing analysis: %s dialogs failed on %s: %s", len(chunk.key), token.label, exc)
            continue
        done(chunk, answers)
        return run
    run.failed.append((chunk, "failed on every token"))
    return run
