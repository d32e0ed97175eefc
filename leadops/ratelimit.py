"""The shared rate limiter every call to Telegram, VK and Yandex goes through.

A token bucket per key (`rate` tokens a second, room for `burst`, starts full)
plus a per-key block for FloodWait / cooldown answers. With `REDIS_URL` set the
state lives in Redis, so the limit holds across every worker process on every
machine; without it an in-process backend gives the same semantics to a single
process (development, tests).

If Redis is unreachable, `acquire` raises the Redis error: calling the API
without a limit would risk the accounts, so failing loudly is the safe side.
"""

import contextlib
import os
import threading
import time
from datetime import UTC, datetime

import redis
from django.conf import settings

# Counters for the dashboard (seed 001's anti-spam monitor): per key and hour, kept a day and a bit.
SEP = "\x1f"
STATS_KEEP_HOURS = 26
COUNTERS = ("requests", "waits", "blocks", "rate_errors")


class RateLimitTimeout(Exception):
    """The token could not be had within the caller's timeout."""


class Blocked(RateLimitTimeout):
    """The key is blocked (FloodWait / cooldown) beyond the caller's timeout."""

    def __init__(self, key: str, until: datetime, remaining: float = 0.0):
        super().__init__(f"{key} is blocked until {until.isoformat()}")
        self.key = key
        self.until = until
        self.remaining = remaining  # seconds, by the limiter's own clock


# One attempt, atomically: blocked? else refill, then take a token or say how long to
# wait. A refused attempt writes nothing, so giving up never costs a token. Redis server
# time is the only clock, so the machines' clocks need not agree. Floats go back as
# strings because Redis truncates Lua numbers to integers in replies.
_ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local blocked_until = tonumber(redis.call('GET', KEYS[2]))
if blocked_until and blocked_until > now then
  return {string.format('%.6f', blocked_until - now), string.format('%.6f', blocked_until)}
end
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
if tokens < 1 then
  return {string.format('%.6f', (1 - tokens) / rate), ''}
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens - 1), 'ts', string.format('%.6f', now))
-- Once the bucket would be full again the key carries no information: let it vanish.
redis.call('PEXPIRE', KEYS[1], string.format('%d', math.ceil(burst / rate * 1000) + 1000))
return {'0', ''}
"""

# Extend, never shorten: a short cooldown must not cut a long FloodWait.
_BLOCK_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local seconds = tonumber(ARGV[1])
local current = tonumber(redis.call('GET', KEYS[1]))
if current and current >= now + seconds then
  return string.format('%.6f', current)
end
local until_str = string.format('%.6f', now + seconds)
redis.call('SET', KEYS[1], until_str, 'PX', string.format('%d', math.ceil(seconds * 1000) + 1000))
return until_str
"""


class RedisLimiter:
    name = "redis"

    def __init__(self, url: str):
        # Timeouts so a hung Redis stalls a worker for seconds, not forever.
        self.client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=10)
        self._acquire = self.client.register_script(_ACQUIRE_LUA)
        self._block = self.client.register_script(_BLOCK_LUA)

    def attempt(self, key: str, rate: float, burst: int) -> tuple[float, float | None]:
        """(0, None) when admitted, else (seconds to wait, block end as a Unix time or None)."""
        wait, until = self._acquire(keys=[f"leadops:rl:{key}", f"leadops:block:{key}"], args=[rate, burst])
        return float(wait), float(until) if until else None

    def block(self, key: str, seconds: float) -> None:
        self._block(keys=[f"leadops:block:{key}"], args=[seconds])

    def count(self, key: str, counts: dict[str, int], hour: int) -> None:
        pipe = self.client.pipeline(transaction=False)
        bucket = f"leadops:stats:{hour}"
        for what, n in counts.items():
            pipe.hincrby(bucket, f"{key}{SEP}{what}", n)
        pipe.expire(bucket, STATS_KEEP_HOURS * 3600)
        pipe.execute()

    def stats(self, hours: list[int]) -> list[dict[str, int]]:
        pipe = self.client.pipeline(transaction=False)
        for hour in hours:
            pipe.hgetall(f"leadops:stats:{hour}")
        return [{k.decode(): int(v) for k, v in bucket.items()} for bucket in pipe.execute()]

    def blocked_until(self, key: str) -> float | None:
        pipe = self.client.pipeline(transaction=False)
        pipe.time()
        pipe.get(f"leadops:block:{key}")
        (secs, micros), until = pipe.execute()
        # The key outlives the block by up to a second (PX is rounded up), so compare.
        return float(until) if until and float(until) > secs + micros / 1e6 else None


class InProcessLimiter:
    name = "in-process"

    def __init__(self):
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, monotonic time)
        self._blocks: dict[str, float] = {}  # key -> Unix time (it is reported as a datetime)
        self._stats: dict[int, dict[str, int]] = {}  # hour -> {"key<SEP>what": n}

    def attempt(self, key: str, rate: float, burst: int) -> tuple[float, float | None]:
        with self._lock:
            until = self.blocked_until(key)
            if until is not None:
                return until - time.time(), until
            now = time.monotonic()
            tokens, ts = self._buckets.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - ts) * rate)
            if tokens < 1:
                return (1 - tokens) / rate, None
            self._buckets[key] = (tokens - 1, now)
            return 0.0, None

    def block(self, key: str, seconds: float) -> None:
        with self._lock:
            self._blocks[key] = max(self._blocks.get(key, 0.0), time.time() + seconds)

    def count(self, key: str, counts: dict[str, int], hour: int) -> None:
        with self._lock:
            bucket = self._stats.setdefault(hour, {})
            for what, n in counts.items():
                bucket[f"{key}{SEP}{what}"] = bucket.get(f"{key}{SEP}{what}", 0) + n
            for old in [h for h in self._stats if h <= hour - STATS_KEEP_HOURS]:
                del self._stats[old]

    def stats(self, hours: list[int]) -> list[dict[str, int]]:
        with self._lock:
            return [dict(self._stats.get(hour, {})) for hour in hours]

    def blocked_until(self, key: str) -> float | None:
        until = self._blocks.get(key)
        return until if until is not None and until > time.time() else None


_cache: tuple[int, str, RedisLimiter | InProcessLimiter] | None = None
_cache_lock = threading.Lock()


def get_limiter() -> RedisLimiter | InProcessLimiter:
    """The backend for this process: Redis when settings.REDIS_URL is set."""
    global _cache
    url = settings.REDIS_URL
    with _cache_lock:
        # A forked worker must not share its parent's sockets (or a lock held at fork time).
        if _cache is None or _cache[:2] != (os.getpid(), url):
            _cache = (os.getpid(), url, RedisLimiter(url) if url else InProcessLimiter())
        return _cache[2]


def reset_limiter() -> None:
    global _cache
    with _cache_lock:
        _cache = None


def backend_name() -> str:
    return get_limiter().name


def acquire(key: str, rate: float, burst: int = 1, timeout: float | None = None) -> float:
    """Wait for a token (and for any block on `key` to end); return the seconds waited.

    Raises Blocked / RateLimitTimeout at once, without sleeping or taking a token,
    when the wait would exceed `timeout`. timeout=None waits as long as needed.
    """
    if rate <= 0 or burst < 1:
        raise ValueError("rate must be > 0 and burst >= 1")
    limiter = get_limiter()
    start = time.monotonic()
    slept = False
    while True:
        wait, until = limiter.attempt(key, rate, burst)
        if wait <= 0:
            count(key, requests=1, waits=int(slept))
            return time.monotonic() - start if slept else 0.0
        if timeout is not None and wait > timeout - (time.monotonic() - start):
            if until is not None:
                raise Blocked(key, datetime.fromtimestamp(until, UTC), remaining=wait)
            raise RateLimitTimeout(f"{key}: next token in {wait:.3f} s, beyond the {timeout} s timeout")
        # Other processes may take the token meanwhile; then the next attempt says how
        # much longer. The floor keeps float rounding from turning into a busy loop.
        time.sleep(max(wait, 0.001))
        slept = True


def block(key: str, seconds: float) -> None:
    """Nobody may acquire `key` for `seconds`; extends an existing block, never shortens it."""
    if seconds > 0:
        get_limiter().block(key, seconds)
        count(key, blocks=1)


def count(key: str, **counts: int) -> None:
    """Add to `key`'s counters for this hour (requests, waits, blocks, rate_errors). Never fails a call."""
    counts = {what: n for what, n in counts.items() if n}
    if not counts:
        return
    with contextlib.suppress(redis.RedisError):  # statistics only: the limit itself already went through
        get_limiter().count(key, counts, int(time.time() // 3600))


def usage(hours: int = 24) -> dict[str, dict[str, int]]:
    """{key: {"requests", "waits", "blocks", "rate_errors"}} summed over the last `hours` hours."""
    now = int(time.time() // 3600)
    totals: dict[str, dict[str, int]] = {}
    for bucket in get_limiter().stats(list(range(now - hours + 1, now + 1))):
        for field, n in bucket.items():
            key, _, what = field.rpartition(SEP)
            row = totals.setdefault(key, dict.fromkeys(COUNTERS, 0))
            row[what] = row.get(what, 0) + n
    return totals


def blocked_until(key: str) -> datetime | None:
    until = get_limiter().blocked_until(key)
    return datetime.fromtimestamp(until, UTC) if until is not None else None
