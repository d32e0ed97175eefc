"""Proofs of life that /healthz reads: who wrote what, when.

Three records, each a set of "member -> last time (epoch seconds)":
- `worker`: every Celery worker writes its hostname every WORKER_HEARTBEAT_SECONDS from a consumer
  bootstep (`WorkerHeartbeat`). The step runs on the consumer's own timer and only while the consumer
  is connected to the broker (Celery stops consumer steps on a lost connection and starts them again
  after reconnecting), so a fresh entry proves: the worker process lives, its event loop turns, and
  it holds a broker connection.
- `beat`: beat publishes `leadops.tasks.heartbeat` every minute (the "Health heartbeat" entry of
  leadops/schedules.py). The `after_task_publish` signal, in the beat process only, writes the time.
  A fresh entry proves: beat's loop runs, it reads its schedule from the database, and it can put a
  message on the broker. It proves nothing about workers, so a dead worker fleet cannot make beat
  look dead (and the other way round).
- `task`: the worker that runs that heartbeat task writes when it ran. Shown for information only (the
  default queue is being consumed); workers busy with long jobs may delay it, which is not a failure.

Where: Redis (sorted sets `leadops:health:<record>`, score = time) when REDIS_URL is set, since web,
worker and beat run in different containers that share only Redis and the database. Without Redis
(`make demo`: SQLite and the filesystem broker, all processes on one machine) small files under
var/health/ (settings.HEALTH_DIR). Not a database table: writing a row every 30 s per worker would
churn the database for nothing, and a model needs a migration. Times are each writer's wall clock;
the thresholds are minutes, so NTP-level skew between hosts does not matter.

Writers never raise: a failed write is logged, and the stale record is what /healthz then reports.
"""

import logging
import os
import re
import socket
import tempfile
import time
from pathlib import Path

import redis
from celery import bootsteps
from celery.signals import after_task_publish, beat_embedded_init, beat_init
from django.conf import settings

logger = logging.getLogger(__name__)

WORKER = "worker"
BEAT = "beat"
TASK = "task"
RECORDS = (WORKER, BEAT, TASK)
KEY_PREFIX = "leadops:health:"
HEARTBEAT_TASK = "leadops.tasks.heartbeat"
WORKER_HEARTBEAT_SECONDS = 30.0
FORGET_AFTER_SECONDS = 24 * 3600  # members silent this long (removed workers) are dropped on the next write
TIMEOUT_SECONDS = 1.0
_MEMBER_UNSAFE = re.compile(r"[^A-Za-z0-9@._-]")


class RedisStore:
    """One sorted set per record: member -> time. Short socket timeouts: a hung Redis costs a second."""

    def __init__(self, url: str):
        self.client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS)

    def mark(self, record: str, member: str, at: float) -> None:
        key = KEY_PREFIX + record
        with self.client.pipeline() as pipe:
            pipe.zadd(key, {member: at})
            pipe.zremrangebyscore(key, "-inf", at - FORGET_AFTER_SECONDS)
            pipe.expire(key, int(FORGET_AFTER_SECONDS))
            pipe.execute()

    def entries(self, record: str) -> dict[str, float]:
        pairs = self.client.zrange(KEY_PREFIX + record, 0, -1, withscores=True)
        return {member.decode(): score for member, score in pairs}

    def close(self) -> None:
        self.client.close()


class FileStore:
    """One directory per record, one small file per member holding the time (written atomically)."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def mark(self, record: str, member: str, at: float) -> None:
        folder = self.root / record
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would hide it from a web process running as another user
        with os.fdopen(fd, "w") as handle:
            handle.write(repr(at))
        os.replace(tmp, folder / _MEMBER_UNSAFE.sub("_", member))
        for name, seen in self.entries(record).items():
            if seen < at - FORGET_AFTER_SECONDS:
                (folder / name).unlink(missing_ok=True)

    def entries(self, record: str) -> dict[str, float]:
        folder = self.root / record
        if not folder.is_dir():
            return {}
        found = {}
        for path in folder.iterdir():
            if path.name.startswith("."):
                continue
            try:
                found[path.name] = float(path.read_text())
            except (OSError, ValueError):
                continue  # a file vanishing or half-written by hand: skip, the next write fixes it
        return found

    def close(self) -> None:
        pass


def health_dir() -> Path:
    return Path(getattr(settings, "HEALTH_DIR", None) or Path(settings.VAR_DIR) / "health")


def get_store() -> RedisStore | FileStore:
    """Redis when REDIS_URL is set, else files under HEALTH_DIR. The caller closes it."""
    if settings.REDIS_URL:
        return RedisStore(settings.REDIS_URL)
    return FileStore(health_dir())


def read(record: str) -> dict[str, float]:
    """member -> last time for one record. Raises when the store is unreachable (health reports it)."""
    store = get_store()
    try:
        return store.entries(record)
    finally:
        store.close()


def _mark(record: str, member: str, at: float | None = None) -> bool:
    try:
        store = get_store()
        try:
            store.mark(record, member, time.time() if at is None else at)
        finally:
            store.close()
        return True
    except Exception as exc:
        # One line (Redis errors name host and port, never the password): during an outage this
        # repeats every 30 s in each worker.
        logger.warning(
            "health: could not record the %s heartbeat of %s: %s: %s", record, member, type(exc).__name__, exc
        )
        return False


def record_worker_heartbeat(*, hostname: str, at: float | None = None) -> bool:
    return _mark(WORKER, hostname, at)


def record_beat_tick(*, hostname: str | None = None, at: float | None = None) -> bool:
    return _mark(BEAT, hostname or socket.gethostname(), at)


def record_task_run(*, hostname: str | None = None, at: float | None = None) -> bool:
    return _mark(TASK, hostname or socket.gethostname(), at)


class WorkerHeartbeat(bootsteps.StartStopStep):
    """Consumer step: write this worker's heartbeat now and every WORKER_HEARTBEAT_SECONDS."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, c, **kwargs):
        self.tref = None
        super().__init__(c, **kwargs)

    def start(self, c):
        record_worker_heartbeat(hostname=c.hostname)
        self.tref = c.timer.call_repeatedly(
            WORKER_HEARTBEAT_SECONDS, record_worker_heartbeat, kwargs={"hostname": c.hostname}, priority=10
        )

    def stop(self, c):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    shutdown = stop


# Set in the beat process only, so a heartbeat published by anyone else (the admin's "run now",
# a test, a shell) is not taken for a beat tick.
IN_BEAT = False


@beat_init.connect
@beat_embedded_init.connect
def _remember_this_is_beat(sender=None, **kwargs):
    global IN_BEAT
    IN_BEAT = True


@after_task_publish.connect
def _record_beat_tick_on_publish(sender=None, **kwargs):
    if sender == HEARTBEAT_TASK and IN_BEAT:
        record_beat_tick()
