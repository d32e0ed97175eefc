"""How many limiter decisions per second each backend makes (printed, not asserted).

A Telegram or VK call costs tens of milliseconds; the limiter must cost far
less. Run with `make bench` (Redis figures only when REDIS_URL is set).
"""

import time
import uuid

import pytest

from leadops import ratelimit
from tests.conftest import redis_url

BACKENDS = [pytest.param("", id="in-process"), pytest.param("redis", id="redis", marks=pytest.mark.redis)]


@pytest.mark.parametrize("backend", BACKENDS)
def bench_limiter_decisions_per_second(settings, backend):
    settings.REDIS_URL = redis_url() if backend else ""
    ratelimit.reset_limiter()
    key = f"bench-{uuid.uuid4()}"
    calls = 2000
    started = time.perf_counter()
    for _ in range(calls):
        ratelimit.acquire(key, rate=1e9, burst=10**9, timeout=0)
    elapsed = time.perf_counter() - started
    print(
        f"\n[bench] limiter {ratelimit.backend_name()}: {calls / elapsed:,.0f} acquire()/s, "
        f"{1e6 * elapsed / calls:.0f} µs each"
    )
    ratelimit.reset_limiter()
