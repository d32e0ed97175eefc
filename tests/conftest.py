"""Shared fixtures and markers.

`@pytest.mark.redis` / `@pytest.mark.postgres` tests need the real server;
with nothing running (`make test` on a bare machine) they are skipped with a
reason, and `.ci/run` runs them against real PostgreSQL and Redis.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from leadops import ratelimit

ROOT = Path(__file__).resolve().parent.parent


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "")


def using_postgres() -> bool:
    return settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def pytest_collection_modifyitems(config, items):
    skip_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL (bash .ci/run does)")
    skip_pg = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://... (bash .ci/run does)")
    for item in items:
        if "redis" in item.keywords and not redis_url():
            item.add_marker(skip_redis)
        if "postgres" in item.keywords and not using_postgres():
            item.add_marker(skip_pg)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_manage(*args, env=None, check=True, timeout=120) -> subprocess.CompletedProcess:
    """Run manage.py in a fresh interpreter, as an operator would."""
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


@pytest.fixture
def admin_client_user(db, django_user_model):
    return django_user_model.objects.create_superuser("ops", "ops@example.test", "ops-password")


class FakeClock:
    """Stands in for the `time` module inside leadops.ratelimit: sleeping advances it."""

    def __init__(self):
        self.now = 1_700_000_000.0
        self.sleeps = []

    def time(self):
        return self.now

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(settings, monkeypatch):
    """The in-process limiter on a fake clock: waits and FloodWaits cost no real time."""
    settings.REDIS_URL = ""
    ratelimit.reset_limiter()
    fake = FakeClock()
    monkeypatch.setattr(ratelimit, "time", fake)
    yield fake
    ratelimit.reset_limiter()


@pytest.fixture(autouse=True)
def fresh_limiter():
    """Blocks and buckets do not leak from one test into the next (in-process, or in the test Redis)."""
    ratelimit.reset_limiter()
    if redis_url():
        import redis

        client = redis.Redis.from_url(redis_url())
        stale = list(client.scan_iter("leadops:*"))
        if stale:
            client.delete(*stale)
        client.close()
    yield
    ratelimit.reset_limiter()
