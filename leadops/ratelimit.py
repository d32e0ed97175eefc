"""The shared rate limiter every call to Telegram, VK and Yandex goes through.

A token bucket per key (`rate` tokens a second, room for `burst`, starts full)
plus a per-key block for FloodWait / cooldown answers. With `REDIS_URL` set the
state lives in Redis, so the limit holds across every worker process on every
machine; without it an in-process backend gives the same semantics to a single
process (development, tests).

If Redis is unreachable, `acquire` raises the Redis error: calling the API
without a limit would risk the accounts, so failing loudly is the safe side.
"""

import os
import threading
import time
from datetime import UTC, datetime

import redis
from django.conf import settings


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


def blocked_until(key: str) -> datetime | None:
    until = get_limiter().blocked_until(key)
    return datetime.fromtimestamp(until, UTC) if until is not None else None
