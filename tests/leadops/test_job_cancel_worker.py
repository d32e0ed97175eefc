"""Cancel against a real Celery worker: the revoke reaches it, and the task it holds never runs."""

import time
import uuid

import pytest

from leadops.jobs import create_job, request_cancel
from leadops.models import JobRun
from leadops.tasks import run_selfcheck
from tests.workers import celery_worker, tasks_go_to

pytestmark = [pytest.mark.redis, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path):
    """A real worker on a queue of its own; tasks of this test go there, not eagerly in-process."""
    log, queue = tmp_path / "worker.log", f"test-cancel-{uuid.uuid4().hex[:8]}"
    with celery_worker(queue, log), tasks_go_to(queue):
        yield log, queue


def wait_for(log, text: str, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        output = log.read_text()
        if text in output:
            return output
        time.sleep(0.2)
    pytest.fail(f"the worker never logged {text!r}; its output:\n{log.read_text()[-3000:]}")


def test_a_queued_task_is_revoked_on_the_worker_and_never_runs(worker):
    log, queue = worker
    wait_for(log, " ready.")  # a revoke reaches only the workers up at that moment
    job = create_job(kind="selfcheck", target="cancel e2e")
    job.celery_task_id = str(uuid.uuid4())
    job.save(update_fields=["celery_task_id"])
    # Due in a few seconds: the worker holds it, as it holds a FloodWait retry.
    run_selfcheck.apply_async(kwargs={"job_id": job.pk}, task_id=job.celery_task_id, countdown=4, queue=queue)
    wait_for(log, f"{job.celery_task_id}] received")

    job = request_cancel(job, user=None)

    assert job.status == JobRun.Status.CANCELLED
    output = wait_for(log, f"Discarding revoked task: leadops.tasks.run_selfcheck[{job.celery_task_id}]")
    assert "Tasks flagged as revoked" in output
    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and job.started_at is None and job.counters == {}
    assert "picked it up" not in job.log_tail  # the worker dropped it: our own check was not even needed
