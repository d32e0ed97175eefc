"""A real Celery worker for the end-to-end tests: another process, on a queue of its own.

with celery_worker(queue, log, env={"VK_API_URL": ...}):
    with tasks_go_to(queue):
        start_job(...)          # runs in the worker, not eagerly in this process
"""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

from leadops.celery import app as celery_app
from tests.conftest import ROOT, redis_url


def worker_database_url() -> str:
    """The database this test writes to, for a process that must see the same rows."""
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@contextmanager
def celery_worker(queue: str, log: Path, *, env: dict | None = None, hostname: str | None = None, database=True):
    """`celery worker --pool solo -Q queue` with the test settings; its output goes to `log`."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": redis_url()}
    if database:
        environment["DATABASE_URL"] = worker_database_url()
    environment.update(env or {})
    command = [sys.executable, "-m", "celery", "-A", "leadops", "worker", "--pool", "solo", "-Q", queue]
    command += ["--without-mingle", "--without-gossip", "--loglevel", "info"]
    if hostname:
        command += ["-n", hostname]
    process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        connection.close()  # the worker's connection must not keep the test database open


@contextmanager
def tasks_go_to(queue: str):
    """Tasks sent meanwhile go to `queue` instead of running eagerly in this process.

    The app reads its settings under the CELERY_ namespace: `conf.task_always_eager = False`
    alone would not hold.
    """
    saved = {
        "CELERY_TASK_ALWAYS_EAGER": celery_app.conf.task_always_eager,
        "CELERY_TASK_DEFAULT_QUEUE": celery_app.conf.task_default_queue,
    }
    celery_app.conf.update(CELERY_TASK_ALWAYS_EAGER=False, CELERY_TASK_DEFAULT_QUEUE=queue)
    try:
        yield
    finally:
        celery_app.conf.update(saved)
