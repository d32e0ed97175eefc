"""/healthz: is the database, the broker, beat and at least one worker fine right now?

GET /healthz                     every check; 200 when all pass, else 503. For monitors.
GET /healthz?checks=database,broker   only those; docker-compose's web check uses this, because
                                 worker and beat start after web is healthy (migrations done), so
                                 web's own health must not wait for them.
python -m leadops.health [CHECK ...]  the same checks from a shell; exit 0 when they pass, 1 when not
                                 (beat's container health check: `python -m leadops.health beat`).

What each check proves (the heartbeats are described in leadops/heartbeat.py):
- database: a new connection (2 s connect timeout) answers `SELECT 1`. The connection is the
  check's own and is always closed, so a dead database never leaves a broken connection behind for
  the request or the next check.
- broker: Redis answers PING within 1 s; for the filesystem broker of `make demo`, its folders exist
  and accept a file.
- beat: beat published its heartbeat task within BEAT_MAX_AGE_SECONDS.
- worker: some worker wrote its heartbeat within WORKER_MAX_AGE_SECONDS.

Every check catches its own errors and reports them as one line (exception class and message) with
credentials masked: the answer carries no URL password, no database password and no traceback.
"""

import copy
import json
import logging
import re
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis
from django.conf import settings
from django.db import connections
from django.db.utils import load_backend
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from . import heartbeat

logger = logging.getLogger(__name__)

DATABASE_CONNECT_TIMEOUT = 2  # seconds; libpq's minimum
BROKER_TIMEOUT = 1.0
BEAT_MAX_AGE_SECONDS = 180  # beat publishes every 60 s: three missed minutes
WORKER_MAX_AGE_SECONDS = 120  # workers write every 30 s: four missed beats
FILESYSTEM_BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "control_folder")
_CREDENTIALS_IN_URL = re.compile(r"(\w+://)[^@/\s]*@")


def _secrets() -> list[str]:
    found = [str(db.get("PASSWORD") or "") for db in settings.DATABASES.values()]
    for url in (settings.REDIS_URL, settings.CELERY_BROKER_URL):
        match = re.match(r"\w+://[^@/\s]*:([^@/\s]+)@", url or "")
        if match:
            found.append(match.group(1))
    return [secret for secret in found if len(secret) >= 3]


def describe_error(exc: BaseException) -> str:
    """One short line safe to show anyone: class and message, credentials and passwords masked."""
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    text = _CREDENTIALS_IN_URL.sub(r"\1***@", text)
    for secret in _secrets():
        text = text.replace(secret, "***")
    return text[:200]


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def check_database(*, alias: str = "default") -> dict:
    settings_dict = copy.deepcopy(connections[alias].settings_dict)
    options = settings_dict.setdefault("OPTIONS", {})
    if settings_dict["ENGINE"] == "django.db.backends.postgresql":
        options["connect_timeout"] = DATABASE_CONNECT_TIMEOUT
        options.pop("pool", None)  # Django keeps pools per alias: the check must not touch the app's pool
    elif settings_dict["ENGINE"] == "django.db.backends.sqlite3":
        options["timeout"] = DATABASE_CONNECT_TIMEOUT
    settings_dict["CONN_MAX_AGE"] = 0
    wrapper = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        try:
            wrapper.close()
        except Exception:  # closing a connection the server already dropped; nothing left to free
            logger.debug("health: closing the check's database connection failed", exc_info=True)
    return {"ok": True, "vendor": wrapper.vendor}


def _check_filesystem_broker() -> dict:
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}
    for key in FILESYSTEM_BROKER_FOLDERS:
        if not options.get(key):
            continue
        folder = Path(options[key])
        if not folder.is_dir():
            return {"ok": False, "transport": "filesystem", "error": f"broker folder {key} does not exist"}
        with tempfile.TemporaryFile(dir=folder, prefix=".healthz-"):
            pass  # raises when the folder does not accept a file
    return {"ok": True, "transport": "filesystem"}


def check_broker() -> dict:
    url = settings.CELERY_BROKER_URL or ""
    scheme = url.split("://", 1)[0]
    if scheme in ("redis", "rediss"):
        client = redis.Redis.from_url(url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
        return {"ok": True, "transport": scheme}
    if scheme == "filesystem":
        return _check_filesystem_broker()
    return {"ok": False, "transport": scheme, "error": f"no health check for the {scheme!r} broker transport"}


def check_beat(*, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    ticks = heartbeat.read(heartbeat.BEAT)
    last = max(ticks.values(), default=None)
    result = {"ok": False, "last_tick": _iso(last), "age_s": None, "max_age_s": BEAT_MAX_AGE_SECONDS}
    if last is None:
        result["error"] = "no beat tick recorded: is celery beat running with the 'Health heartbeat' entry enabled?"
        return result
    result["age_s"] = round(max(0.0, now - last), 1)
    result["ok"] = result["age_s"] <= BEAT_MAX_AGE_SECONDS
    if not result["ok"]:
        result["error"] = f"last beat tick is older than {BEAT_MAX_AGE_SECONDS} s"
    return result


def check_worker(*, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    beats = heartbeat.read(heartbeat.WORKER)
    last = max(beats.values(), default=None)
    fresh = [at for at in beats.values() if now - at <= WORKER_MAX_AGE_SECONDS]
    task_runs = heartbeat.read(heartbeat.TASK)
    result = {
        "ok": bool(fresh),
        "workers": len(fresh),
        "last_heartbeat": _iso(last),
        "age_s": None if last is None else round(max(0.0, now - last), 1),
        "max_age_s": WORKER_MAX_AGE_SECONDS,
        "last_task_run": _iso(max(task_runs.values(), default=None)),  # information, not a condition
    }
    if not fresh:
        result["error"] = (
            "no worker heartbeat recorded"
            if last is None
            else f"no worker heartbeat in the last {WORKER_MAX_AGE_SECONDS} s"
        )
    return result


CHECKS = {"database": check_database, "broker": check_broker, "beat": check_beat, "worker": check_worker}


def run_check(name: str) -> dict:
    started = time.perf_counter()
    try:
        result = CHECKS[name]()
    except Exception as exc:
        # One line, not a traceback: a monitor calls this every 30 s through a whole outage.
        result = {"ok": False, "error": describe_error(exc)}
        logger.warning("health: %s check failed: %s", name, result["error"])
        logger.debug("health: %s check failed", name, exc_info=True)
    result["ms"] = round((time.perf_counter() - started) * 1000, 1)
    return result


def run_checks(names: list[str] | None = None) -> dict:
    """{"status": "ok"|"fail", "checks": {name: {"ok": ..., "ms": ..., ...}}, "failing": [names]}."""
    checks = {name: run_check(name) for name in (names or list(CHECKS))}
    failing = [name for name, result in checks.items() if not result["ok"]]
    return {"status": "fail" if failing else "ok", "checks": checks, "failing": failing}


@csrf_exempt
@never_cache
@require_safe
def healthz(request):
    """No authentication and no session: monitors and container health checks call it."""
    wanted = [name.strip() for name in request.GET.get("checks", "").split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(CHECKS))
    if unknown:
        return JsonResponse({"status": "fail", "error": f"unknown checks: {', '.join(unknown)}"}, status=400)
    report = run_checks(wanted or None)
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


def main(argv: list[str]) -> int:
    import django
    from django.apps import apps

    if not apps.ready:
        django.setup()
    unknown = sorted(set(argv) - set(CHECKS))
    if unknown:
        print(f"unknown checks: {', '.join(unknown)} (choose from {', '.join(CHECKS)})", file=sys.stderr)
        return 2
    report = run_checks(argv or None)
    print(json.dumps(report))
    return 0 if report["status"] == "ok" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
