"""Run a list of chunks over the token pool: parallel first, then a slow retry.

Phase 2.1 (parallel): one thread per usable token, each takes chunks from a
shared queue. A chunk that fails on one token moves to the next token ("smart
fallback"); one that fails on every token is set aside, never dropped.
ResponseTooBig halves the chunk. Phase 2.2 (sequential): the set-aside chunks
are retried one at a time with longer pauses. What still fails is returned, so
the caller decides (a sync that fetched too little changes nothing).
"""

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from ..client import NoUsableToken, ResponseTooBig, TokenHandle, TokenInvalid, TokenSetAside, VkApiError, VkClient

log = logging.getLogger(__name__)

RETRY_PAUSE = 2.0  # seconds between chunks in the sequential phase


@dataclass
class Chunk:
    key: tuple  # what to fetch, e.g. the offsets of its getMembers calls
    attempts: int = 0
    tried: set[str] = field(default_factory=set)  # token labels that failed on it

    def halves(self) -> list["Chunk"]:
        middle = len(self.key) // 2
        return [Chunk(self.key[:middle]), Chunk(self.key[middle:])]


@dataclass
class ChunkRun:
    results: list[tuple[Chunk, Any]] = field(default_factory=list)
    failed: list[tuple[Chunk, str]] = field(default_factory=list)
    requests: int = 0
    tokens_used: set[str] = field(default_factory=set)


Fetch = Callable[[VkClient, TokenHandle, Chunk], Any]


def run_chunks(
    client: VkClient,
    chunks: list[Chunk],
    fetch: Fetch,
    *,
    on_done: Callable[[Chunk, Any], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> ChunkRun:
    sleep = sleep or getattr(client, "sleep", time.sleep)  # tests give the client a sleep that doesn't
    run = ChunkRun()
    lock = threading.Lock()
    # SQLite (development, tests) lets one connection write at a time and its in-memory test
    # database fails a second writer at once instead of waiting: write one chunk at a time there.
    write_lock = threading.Lock() if connection.vendor == "sqlite" else contextlib.nullcontext()
    retry: list[Chunk] = []
    # A BaseException in a worker thread (leadops.jobs.JobCancelled from on_done's progress
    # report) stops every thread before its next chunk and is raised again here, in the caller.
    stopped: list[BaseException] = []
    todo: queue.Queue[Chunk] = queue.Queue()
    for chunk in chunks:
        todo.put(chunk)

    def attempt(chunk: Chunk, token: TokenHandle) -> bool:
        """Fetch `chunk` with `token`; True when it is settled (done or split)."""
        chunk.attempts += 1
        try:
            result = fetch(client, token, chunk)
        except ResponseTooBig:
            if len(chunk.key) > 1:
                for half in chunk.halves():
                    todo.put(half)
                return True
            chunk.tried.add(token.label)
            return False
        except (TokenSetAside, TokenInvalid, VkApiError, OSError) as exc:
            chunk.tried.add(token.label)
            log.info("vk chunk of %d failed on %s: %s", len(chunk.key), token.label, exc)
            return False
        except Exception as exc:  # transient HTTP trouble after the client's own retries
            chunk.tried.add(token.label)
            log.info("vk chunk of %d failed on %s: %s", len(chunk.key), token.label, type(exc).__name__)
            return False
        finally:
            with lock:
                run.requests += 1
                run.tokens_used.add(token.label)
        if on_done:
            try:
                with write_lock:
                    on_done(chunk, result)
            except Exception:  # a failed write must not lose the chunk: it goes again
                log.exception("vk chunk of %d: writing its result failed", len(chunk.key))
                chunk.tried.add(token.label)
                return False
        with lock:
            run.results.append((chunk, result))
        return True

    def next_token(chunk: Chunk, preferred: TokenHandle) -> TokenHandle | None:
        usable = client.usable_tokens()
        if preferred in usable and preferred.label not in chunk.tried:
            return preferred
        return next((t for t in usable if t.label not in chunk.tried), None)

    def worker(own: TokenHandle):
        try:
            while not stopped:
                try:
                    chunk = todo.get_nowait()
                except queue.Empty:
                    return
                token = next_token(chunk, own)
                while token is not None and not attempt(chunk, token):
                    token = next_token(chunk, own)
                if token is None:
                    with lock:
                        retry.append(chunk)
        except BaseException as exc:
            with lock:
                stopped.append(exc)
        finally:
            connection.close()  # each thread had its own database connection

    tokens = client.usable_tokens()
    if not tokens:
        raise NoUsableToken("no usable VK token: all are invalid or set aside")
    threads = [threading.Thread(target=worker, args=(token,), daemon=True) for token in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if stopped:
        raise stopped[0]

    # Phase 2.2: slowly, one at a time, every token again.
    for chunk in retry:
        chunk.tried.clear()
        settled = False
        for token in client.usable_tokens():
            sleep(RETRY_PAUSE)
            if attempt(chunk, token):
                settled = True
                break
        while not todo.empty():  # halves of a chunk that was too big
            half = todo.get_nowait()
            if not any(attempt(half, token) for token in client.usable_tokens()):
                run.failed.append((half, "failed on every token"))
        if not settled:
            run.failed.append((chunk, "failed on every token, also when retried slowly"))
    return run


def call_with_fallback(client: VkClient, method: str, params: dict) -> Any:
    """One call on the first token that can answer it: a set-aside or invalid token hands over to the next."""
    last: Exception | None = None
    for token in client.usable_tokens():
        try:
            return client.call(method, params, token=token)
        except (TokenSetAside, TokenInvalid, VkApiError) as exc:
            last = exc
    raise last or NoUsableToken("no usable VK token: all are invalid or set aside")
