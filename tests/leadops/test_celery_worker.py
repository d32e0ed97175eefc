"""A real Celery worker against Redis runs a job enqueued through on_commit."""

import time
import uuid

import pytest

from leadops.jobs import start_job
from leadops.models import JobRun
from leadops.tasks import run_selfcheck
from tests.workers import celery_worker, tasks_go_to

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker_queue(tmp_path):
    log, queue = tmp_path / "worker.log", f"test-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue, log), tasks_go_to(queue):
        yield log


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
    assert job.celery_task_id in worker_queue.read_text()  # the worker ran it, not this process
    assert job.counters == {"checks_passed": 3}
    assert "redis token bucket" in job.log_tail
    assert "postgresql" in job.log_tail
