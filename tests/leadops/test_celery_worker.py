"""A real Celery worker against Redis runs a job enqueued through on_commit."""

import os
import subprocess
import sys
import time
import uuid

import pytest
from django.db import connection

from leadops.celery import app as celery_app
from leadops.jobs import start_job
from leadops.models import JobRun
from leadops.tasks import run_selfcheck
from tests.conftest import ROOT, redis_url

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.fixture
def worker_queue(tmp_path):
    log = tmp_path / "worker.log"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": _database_url(),  # the test database this test writes to
        "REDIS_URL": redis_url(),
    }
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "leadops",
            "worker",
            "--pool",
            "solo",
            "-Q",
            queue,
            "--without-mingle",
            "--without-gossip",
            "--loglevel",
            "info",
        ],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    eager, default_queue = celery_app.conf.task_always_eager, celery_app.conf.task_default_queue
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_default_queue = queue
    try:
        yield log
    finally:
        celery_app.conf.task_always_eager = eager
        celery_app.conf.task_default_queue = default_queue
        worker.terminate()
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
        connection.close()  # the worker's connection must not keep the test database open


def test_a_real_worker_runs_a_job_enqueued_on_commit(worker_queue):
    job = start_job(kind="selfcheck", target="e2e", task=run_selfcheck)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if not job.is_active:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"the job never finished; worker output:\n{worker_queue.read_text()[-3000:]}")

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.counters == {"checks_passed": 3}
    assert "redis token bucket" in job.log_tail
    assert "postgresql" in job.log_tail
