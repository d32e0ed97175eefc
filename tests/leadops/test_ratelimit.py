"""The shared limiter: token bucket and blocks, in-process and across processes via Redis."""

import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import redis

from leadops import ratelimit
from leadops.ratelimit import Blocked, RateLimitTimeout, acquire, block, blocked_until
from tests.conftest import ROOT, redis_url


@pytest.fixture
def redis_limiter(settings):
    settings.REDIS_URL = redis_url()
    ratelimit.reset_limiter()
    yield ratelimit.get_limiter()
    ratelimit.reset_limiter()


@pytest.fixture
def key():
    return f"test-{uuid.uuid4().hex}"


# --- in-process ---------------------------------------------------------------


def test_it_uses_the_in_process_backend_without_redis_url(clock):
    assert ratelimit.backend_name() == "in-process"


def test_it_admits_a_burst_then_throttles(clock, key):
    assert acquire(key, rate=4, burst=2) == 0
    assert acquire(key, rate=4, burst=2) == 0
    assert clock.sleeps == []
    assert acquire(key, rate=4, burst=2) == pytest.approx(0.25)
    assert acquire(key, rate=4, burst=2) == pytest.approx(0.25)


def test_it_refills_while_idle_but_not_beyond_burst(clock, key):
    for _ in range(2):
        acquire(key, rate=4, burst=2)
    clock.now += 60
    assert [acquire(key, rate=4, burst=2) for _ in range(3)] == [0, 0, pytest.approx(0.25)]


def test_it_keeps_keys_apart(clock, key):
    acquire(key, rate=1)
    assert acquire(f"{key}-other", rate=1) == 0


def test_it_raises_on_timeout_without_sleeping_or_consuming(clock, key):
    acquire(key, rate=4, burst=1)
    for _ in range(3):
        with pytest.raises(RateLimitTimeout) as exc:
            acquire(key, rate=4, burst=1, timeout=0.2)
        assert not isinstance(exc.value, Blocked)
    assert clock.sleeps == []
    # The refusals took nothing: the next token is still only 0.25 s away.
    assert acquire(key, rate=4, burst=1, timeout=0.25) == pytest.approx(0.25)


def test_it_reports_and_honours_a_block(clock, key):
    assert blocked_until(key) is None
    block(key, 30)
    assert blocked_until(key) == datetime.fromtimestamp(clock.now + 30, UTC)
    assert blocked_until(key).tzinfo == UTC
    assert acquire(key, rate=100, burst=10) == pytest.approx(30)
    assert blocked_until(key) is None


def test_it_extends_a_block_but_never_shortens_it(clock, key):
    block(key, 30)
    long_end = blocked_until(key)
    block(key, 5)
    assert blocked_until(key) == long_end
    block(key, 60)
    assert blocked_until(key) == long_end + timedelta(seconds=30)


def test_it_raises_blocked_when_blocked_beyond_the_timeout(clock, key):
    block(key, 30)
    with pytest.raises(Blocked) as exc:
        acquire(key, rate=100, burst=10, timeout=10)
    assert exc.value.key == key
    assert exc.value.until == datetime.fromtimestamp(clock.now + 30, UTC)
    assert clock.sleeps == []


def test_it_waits_out_a_block_shorter_than_the_timeout(clock, key):
    block(key, 3)
    assert acquire(key, rate=100, burst=10, timeout=10) == pytest.approx(3)


def test_it_caches_the_backend_per_process(clock, key, monkeypatch):
    limiter = ratelimit.get_limiter()
    assert ratelimit.get_limiter() is limiter
    # After a fork the child must build its own backend (own sockets, own lock).
    monkeypatch.setattr(ratelimit, "os", SimpleNamespace(getpid=lambda: -1))
    assert ratelimit.get_limiter() is not limiter


def test_it_rejects_nonsense_limits(clock, key):
    with pytest.raises(ValueError):
        acquire(key, rate=0)
    with pytest.raises(ValueError):
        acquire(key, rate=1, burst=0)


# --- Redis ----------------------------------------------------------------------


def run_python(code: str, *args: str) -> subprocess.Popen:
    """Start a fresh interpreter with the test settings, as a separate worker would be."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": redis_url(), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return json.loads(out)


HAMMER = """
import json, sys, time
import django
django.setup()
from leadops import ratelimit
key = sys.argv[1]
print("ready", flush=True)
start, end = map(float, sys.stdin.readline().split())  # the same moment for every process
time.sleep(max(0.0, start - time.time()))
admitted = []
while time.time() < end:
    try:
        ratelimit.acquire(key, rate=4, burst=2, timeout=0.05)
    except ratelimit.RateLimitTimeout:
        continue
    admitted.append(time.time())
print(json.dumps({"backend": ratelimit.backend_name(), "admitted": admitted}))
"""


@pytest.mark.redis
def test_it_uses_redis_when_redis_url_is_set(redis_limiter):
    assert ratelimit.backend_name() == "redis"


@pytest.mark.redis
def test_it_admits_a_burst_then_throttles_in_redis(redis_limiter, key):
    assert acquire(key, rate=10, burst=2) == 0
    assert acquire(key, rate=10, burst=2) == 0
    with pytest.raises(RateLimitTimeout):
        acquire(key, rate=10, burst=2, timeout=0)
    assert 0 < acquire(key, rate=10, burst=2) <= 1


@pytest.mark.redis
def test_it_does_not_consume_on_timeout_in_redis(redis_limiter, key):
    acquire(key, rate=2, burst=1)
    started = time.monotonic()
    for _ in range(20):
        with pytest.raises(RateLimitTimeout):
            acquire(key, rate=2, burst=1, timeout=0)
    assert time.monotonic() - started < 0.4  # refused at once, not after sleeping
    # Had the refusals taken tokens, the bucket would be 10 s in debt.
    assert acquire(key, rate=2, burst=1, timeout=1) <= 0.5


@pytest.mark.redis
def test_it_blocks_extends_and_raises_blocked_in_redis(redis_limiter, key):
    assert blocked_until(key) is None
    before = datetime.now(UTC)
    block(key, 30)
    until = blocked_until(key)
    assert until.tzinfo == UTC
    assert timedelta(seconds=29) < until - before < timedelta(seconds=31)
    block(key, 5)
    assert blocked_until(key) == until
    block(key, 60)
    assert timedelta(seconds=29) < blocked_until(key) - until < timedelta(seconds=31)
    with pytest.raises(Blocked) as exc:
        acquire(key, rate=100, burst=10, timeout=1)
    assert exc.value.until == blocked_until(key)


@pytest.mark.redis
def test_it_waits_out_a_short_block_in_redis(redis_limiter, key):
    block(key, 0.3)
    assert 0.2 < acquire(key, rate=100, burst=10, timeout=2) < 2
    assert blocked_until(key) is None


@pytest.mark.redis
def test_it_lets_idle_keys_expire_in_redis(redis_limiter, key):
    acquire(key, rate=2, burst=4)
    block(key, 10)
    client = redis_limiter.client
    assert 0 < client.pttl(f"leadops:rl:{key}") <= 3000  # full again after 2 s, plus a margin
    assert 10_000 < client.pttl(f"leadops:block:{key}") <= 11_000


@pytest.mark.redis
def test_it_holds_the_limit_across_processes(redis_limiter, key):
    rate, burst, seconds = 4, 2, 5
    procs = [run_python(HAMMER, key) for _ in range(4)]
    # Start together once every interpreter is up, however long a loaded machine takes to start them.
    assert [proc.stdout.readline().strip() for proc in procs] == ["ready"] * 4
    start = time.time() + 0.2
    for proc in procs:
        proc.stdin.write(f"{start} {start + seconds}\n")
        proc.stdin.flush()
    results = [result(proc) for proc in procs]
    assert {r["backend"] for r in results} == {"redis"}
    stamps = sorted(t for r in results for t in r["admitted"])

    assert len(stamps) <= rate * seconds + burst
    for i, first in enumerate(stamps):
        in_window = sum(1 for t in stamps[i:] if t < first + 1)
        assert in_window <= rate + burst, f"{in_window} admitted within 1 s from {first}"
    assert len(stamps) >= rate * seconds - 4  # the limiter does admit, it is not just shut
    assert sum(1 for r in results if r["admitted"]) >= 2  # and more than one process got through


BLOCK_PEER = """
import json, sys
import django
django.setup()
from leadops import ratelimit
seen_key, own_key = sys.argv[1], sys.argv[2]
seen = ratelimit.blocked_until(seen_key)
try:
    ratelimit.acquire(seen_key, rate=100, burst=10, timeout=0.5)
    outcome = "admitted"
except ratelimit.Blocked as exc:
    outcome = "blocked until " + exc.until.isoformat()
ratelimit.block(own_key, 30)
print(json.dumps({"seen": seen and seen.isoformat(), "outcome": outcome}))
"""


@pytest.mark.redis
def test_it_shares_blocks_between_processes(redis_limiter, key):
    ours, theirs = f"{key}-ours", f"{key}-theirs"
    block(ours, 30)
    until = blocked_until(ours)

    peer = result(run_python(BLOCK_PEER, ours, theirs))

    assert peer == {"seen": until.isoformat(), "outcome": f"blocked until {until.isoformat()}"}
    assert blocked_until(theirs) is not None
    with pytest.raises(Blocked):
        acquire(theirs, rate=100, burst=10, timeout=0.5)


# --- counters for the dashboard ----------------------------------------------------------


def _counts_after_some_traffic(key):
    acquire(key, rate=1000, burst=5)
    acquire(key, rate=1000, burst=5)
    block(f"{key}-blocked", 30)
    ratelimit.count(key, rate_errors=2)
    return ratelimit.usage()


def test_it_counts_requests_blocks_and_rate_errors_per_key(key):
    usage = _counts_after_some_traffic(key)

    assert usage[key] == {"requests": 2, "waits": 0, "blocks": 0, "rate_errors": 2}
    assert usage[f"{key}-blocked"]["blocks"] == 1


@pytest.mark.redis
def test_the_counters_are_shared_through_redis(redis_limiter, key):
    usage = _counts_after_some_traffic(key)

    assert usage[key]["requests"] == 2
    client = redis.Redis.from_url(redis_url())
    assert any(
        k.startswith(b"leadops:stats:") and 0 < client.ttl(k) <= 26 * 3600 for k in client.keys("leadops:stats:*")
    )


def test_a_request_that_had_to_wait_is_counted_as_a_wait(key, clock):
    acquire(key, rate=1, burst=1)
    acquire(key, rate=1, burst=1)  # the fake clock sleeps a second for it

    assert ratelimit.usage()[key] == {"requests": 2, "waits": 1, "blocks": 0, "rate_errors": 0}
