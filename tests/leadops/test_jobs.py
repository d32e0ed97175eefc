"""JobRun: created, enqueued after commit, tracked to the end, shown in admin."""

import pytest
from django.db import transaction
from django.urls import reverse

from leadops.jobs import create_job, start_job, track_job
from leadops.models import JobRun
from leadops.tasks import run_selfcheck

pytestmark = pytest.mark.django_db


class RecordingTask:
    """Stands in for a Celery task at the enqueue port: records what was sent."""

    def __init__(self):
        self.sent = []

    def apply_async(self, kwargs, task_id):
        self.sent.append((kwargs, task_id))


def test_it_enqueues_only_after_the_transaction_commits(django_capture_on_commit_callbacks):
    task = RecordingTask()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = start_job(kind="selfcheck", task=task, target="t")
        assert task.sent == []
    for callback in callbacks:
        callback()

    assert task.sent == [({"job_id": job.pk}, job.celery_task_id)]
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.QUEUED


def test_it_enqueues_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    task = RecordingTask()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        start_job(kind="selfcheck", task=task)
        raise RuntimeError("the caller failed after starting the job")

    assert callbacks == []
    assert task.sent == []
    assert not JobRun.objects.exists()


def test_it_records_progress_counters_and_success():
    job = create_job(kind="k")
    with track_job(job.pk) as reporter:
        reporter.set_total(3)
        reporter.advance(2)
        reporter.count("rows", 5)
        reporter.log("halfway")
        assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.RUNNING

    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED
    assert (job.progress_done, job.progress_total) == (2, 3)
    assert job.counters == {"rows": 5}
    assert "halfway" in job.log_tail
    assert job.started_at <= job.finished_at


def test_it_records_the_error_and_reraises_on_failure():
    job = create_job(kind="k")
    with pytest.raises(ValueError), track_job(job.pk) as reporter:
        reporter.advance()
        raise ValueError("the sheet has no header row")

    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert job.error == "ValueError: the sheet has no header row"
    assert job.finished_at is not None
    assert job.progress_done == 1


def test_it_keeps_only_the_tail_of_the_log():
    job = create_job(kind="k")
    with track_job(job.pk) as reporter:
        for i in range(200):
            reporter.log(f"line {i}")
    job.refresh_from_db()
    lines = job.log_tail.splitlines()
    assert len(lines) == 50
    assert lines[-1].endswith("line 199")


def test_the_selfcheck_task_runs_its_job_to_success():
    job = create_job(kind="selfcheck")
    run_selfcheck.delay(job.pk)  # eager in unit tests
    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED
    assert job.counters == {"checks_passed": 3}
    assert job.percent == 100


def test_the_change_page_refreshes_while_the_job_runs(admin_client):
    job = create_job(kind="k")
    url = reverse("admin:leadops_jobrun_change", args=[job.pk])
    assert 'http-equiv="refresh"' in admin_client.get(url).content.decode()

    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED)
    assert 'http-equiv="refresh"' not in admin_client.get(url).content.decode()


def test_the_admin_index_shows_the_latest_jobs(admin_client):
    create_job(kind="vk-subscribers", target="club1")
    failed = create_job(kind="tg-export", target="@group")
    JobRun.objects.filter(pk=failed.pk).update(status=JobRun.Status.FAILED, error="FloodWait 900 s")

    html = admin_client.get(reverse("admin:index")).content.decode()
    assert 'id="latest-jobruns"' in html
    assert "vk-subscribers" in html and "club1" in html
    assert "FloodWait 900 s" in html


def test_the_admin_cannot_edit_or_add_jobs(admin_client):
    job = create_job(kind="k")
    assert admin_client.get(reverse("admin:leadops_jobrun_add")).status_code == 403
    response = admin_client.post(reverse("admin:leadops_jobrun_change", args=[job.pk]), {"kind": "x"})
    assert response.status_code == 403
