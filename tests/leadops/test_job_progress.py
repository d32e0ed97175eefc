"""The job page, live: its progress JSON, the page's elements, Cancel (queued and running), redirects."""

import base64
import json
import time
import uuid

import pytest
from django.contrib.auth.models import Permission
from django.contrib.staticfiles import finders
from django.urls import reverse

from leadops import jobs
from leadops.admin_tools import jobs_url
from leadops.jobs import JobCancelled, JobWasCancelled, create_job, mark_waiting, request_cancel, track_job
from leadops.models import JobRun
from leadops.tasks import run_selfcheck
from tests.conftest import redis_url

pytestmark = pytest.mark.django_db


def progress_url(job):
    return reverse("admin:leadops_jobrun_progress", args=[job.pk])


def cancel_url(job):
    return reverse("admin:leadops_jobrun_cancel", args=[job.pk])


def change_url(job):
    return reverse("admin:leadops_jobrun_change", args=[job.pk])


def running_job(**fields):
    job = create_job(kind="vk-subscribers", target="Synthetic community")
    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.RUNNING, **fields)
    job.refresh_from_db()
    return job


@pytest.fixture
def staff(django_user_model):
    """Staff who may look at jobs, and nothing else."""

    def make(*codenames):
        user = django_user_model.objects.create_user(f"staff-{uuid.uuid4().hex[:6]}", password="pw", is_staff=True)
        user.user_permissions.add(*Permission.objects.filter(content_type__app_label="leadops", codename__in=codenames))
        return user

    return make


@pytest.fixture
def fast_reports(monkeypatch):
    """Every report writes and looks at the cancel flag (in production: at most once a second)."""
    monkeypatch.setattr(jobs, "FLUSH_INTERVAL", 0.0)


# --- the progress JSON -------------------------------------------------------------------------------


def test_the_progress_json_of_a_running_job(admin_client):
    with track_job(create_job(kind="vk-subscribers").pk) as reporter:
        reporter.set_total(12)
        reporter.advance(3)
        reporter.count("fetched", 3000)
        for n in range(30):
            reporter.log(f"chunk {n}")
        reporter.flush()
        job = reporter.job

        response = admin_client.get(progress_url(job))

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]  # polled every second: never a cached answer
    data = response.json()
    assert {k: data[k] for k in ("status", "done", "total", "percent", "counters", "error", "finished")} == {
        "status": "running",
        "done": 3,
        "total": 12,
        "percent": 25,
        "counters": {"fetched": 3000},
        "error": "",
        "finished": False,
    }
    assert len(data["log_tail"]) == 20 and data["log_tail"][-1].endswith("chunk 29")
    assert data["can_cancel"] is True and data["cancel_requested"] is False
    assert data["updated_at"].startswith(str(job.started_at.date()))


def test_the_progress_json_of_a_finished_job(admin_client):
    job = create_job(kind="k")
    with pytest.raises(ValueError), track_job(job.pk) as reporter:
        reporter.set_total(4)
        reporter.advance(1)
        raise ValueError("the sheet has no header row")

    data = admin_client.get(progress_url(job)).json()

    assert data["status"] == "failed" and data["finished"] is True and data["can_cancel"] is False
    assert data["error"] == "ValueError: the sheet has no header row"
    assert (data["done"], data["total"], data["percent"]) == (1, 4, 25)


def test_a_job_without_a_total_has_no_percent_until_it_succeeds(admin_client):
    job = running_job(progress_done=7)
    assert admin_client.get(progress_url(job)).json()["percent"] is None

    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED)
    assert admin_client.get(progress_url(job)).json()["percent"] == 100


def test_it_shows_progress_and_cancel_to_staff_only(client, staff, django_user_model):
    job = running_job()
    assert client.get(progress_url(job)).status_code == 302  # to the login page
    assert client.post(cancel_url(job)).status_code == 302

    client.force_login(django_user_model.objects.create_user("not-staff", password="pw"))
    assert client.get(progress_url(job)).status_code == 302

    client.force_login(staff())
    assert client.get(progress_url(job)).status_code == 403

    client.force_login(staff("view_jobrun"))
    assert client.get(progress_url(job)).status_code == 200
    assert client.post(cancel_url(job)).status_code == 403
    assert 'id="job-cancel"' not in client.get(change_url(job)).content.decode()

    client.force_login(staff("view_jobrun", "cancel_jobrun"))
    assert client.get(cancel_url(job)).status_code == 405  # a cancel is a POST, with its CSRF token
    assert client.post(cancel_url(job)).status_code == 302
    assert JobRun.objects.get(pk=job.pk).cancel_requested_at is not None


# --- the page --------------------------------------------------------------------------------------


def test_the_page_of_an_active_job_has_the_live_bar_and_cancel(admin_client):
    job = running_job(progress_done=5, progress_total=20)

    html = admin_client.get(change_url(job)).content.decode()

    assert 'id="job-progress"' in html and 'data-percent="25"' in html and 'value="25"' in html
    assert 'id="job-status" data-status="running"' in html
    assert 'id="job-cancel"' in html and f'action="{cancel_url(job)}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'data-progress-url="{progress_url(job)}"' in html and 'data-active="true"' in html
    assert "leadops/job_progress.js" in html
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in html  # without JavaScript
    assert finders.find("leadops/job_progress.js")


def test_the_page_of_a_finished_job_has_no_cancel_and_no_refresh(admin_client):
    job = running_job(progress_done=20, progress_total=20)
    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED)

    html = admin_client.get(change_url(job)).content.decode()

    assert 'data-percent="100"' in html and 'data-active="false"' in html
    assert 'id="job-cancel-form"' in html and "hidden" in html.split('id="job-cancel-form"')[1].split(">")[0]
    assert "http-equiv" not in html


# --- cancel ----------------------------------------------------------------------------------------


def test_a_queued_job_is_cancelled_at_once_and_never_runs(admin_client, django_capture_on_commit_callbacks):
    job = create_job(kind="selfcheck")
    JobRun.objects.filter(pk=job.pk).update(celery_task_id=str(uuid.uuid4()))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:  # the revoke, after the commit
        response = admin_client.post(cancel_url(job), follow=True)

    assert len(callbacks) == 1
    assert "cancelled: it had not started" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and job.finished_at and not job.started_at
    assert job.cancel_requested_by.username == "admin" and "cancelled by admin before it started" in job.log_tail

    run_selfcheck.delay(job.pk)  # a worker that missed the revoke picks it up anyway (eager here)

    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and not job.started_at
    assert job.counters == {} and "not started" in job.log_tail


@pytest.mark.redis
def test_cancelling_a_queued_job_revokes_its_task_on_the_broker(django_capture_on_commit_callbacks):
    import redis

    job = create_job(kind="selfcheck")
    task_id = str(uuid.uuid4())
    JobRun.objects.filter(pk=job.pk).update(celery_task_id=task_id)
    listener = redis.Redis.from_url(redis_url()).pubsub()
    listener.psubscribe("*celery.pidbox")  # where `celery control` broadcasts to every worker
    listener.get_message(timeout=1)  # the subscription's confirmation

    with django_capture_on_commit_callbacks(execute=True):
        request_cancel(job, user=None)

    deadline, commands = time.monotonic() + 10, []
    while time.monotonic() < deadline and not any(c["arguments"].get("task_id") == task_id for c in commands):
        message = listener.get_message(timeout=1)
        if message and message["type"] == "pmessage":
            envelope = json.loads(message["data"])
            commands.append(json.loads(base64.b64decode(envelope["body"])))
    listener.close()
    revoke = next(c for c in commands if c["arguments"].get("task_id") == task_id)
    assert revoke["method"] == "revoke"
    assert revoke["arguments"]["terminate"] is False  # never killed mid-chunk: the flag stops it


def test_a_running_job_stops_at_its_next_report_between_chunks(fast_reports):
    job = create_job(kind="k")
    written = []

    with pytest.raises(JobWasCancelled), track_job(job.pk) as reporter:
        reporter.set_total(10)
        for chunk in range(10):
            written.append(chunk)  # a chunk's write, committed as a whole
            if chunk == 3:
                request_cancel(job, user=None)
            reporter.advance()

    assert written == [0, 1, 2, 3]  # the chunk under way finished, no other began
    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and job.finished_at
    assert (job.progress_done, job.progress_total) == (4, 10)
    assert "stopped between steps" in job.log_tail and not job.error


def test_a_cancel_passes_through_the_services_own_except_exception(fast_reports):
    job = create_job(kind="k")
    retried = []

    with pytest.raises(JobWasCancelled), track_job(job.pk) as reporter:
        request_cancel(job, user=None)
        try:
            reporter.advance()
        except Exception:  # the way chunk runners retry a failed chunk: a cancel is not one
            retried.append(True)

    assert retried == []
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.CANCELLED


def test_the_reporter_looks_at_the_flag_only_with_its_throttled_write(monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(jobs, "FLUSH_INTERVAL", 3600.0)  # no write is due during this test
    job = create_job(kind="k")
    with pytest.raises(JobWasCancelled), track_job(job.pk) as reporter:
        request_cancel(job, user=None)
        with django_assert_max_num_queries(0):  # between two writes: not a single query
            for _ in range(100):
                reporter.advance()
        with pytest.raises(JobCancelled):
            reporter.check_cancelled()  # what a service calls before a step it cannot stop halfway
        reporter.advance()  # seen once: every later report stops the job too


def test_a_job_waiting_out_a_flood_wait_is_not_resumed_once_cancelled():
    job = create_job(kind="tg-export")
    mark_waiting(job.pk, "FloodWait 30 s: resumes from its checkpoint")
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.QUEUED

    request_cancel(job, user=None)
    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED

    mark_waiting(job.pk, "FloodWait 30 s: resumes from its checkpoint")  # a late retry of the same run
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.CANCELLED


def test_cancelling_a_finished_job_changes_nothing(admin_client):
    job = running_job()
    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.SUCCEEDED)

    response = admin_client.post(cancel_url(job), follow=True)

    assert "had already ended" in response.content.decode()
    job.refresh_from_db()
    assert job.status == JobRun.Status.SUCCEEDED and job.cancel_requested_at is None


# --- where actions send the operator ------------------------------------------------------------------


def test_one_job_leads_to_its_page_several_to_the_list_of_exactly_those(admin_client):
    first, second, other = (create_job(kind="tg-export", target=t) for t in ("first", "second", "other"))

    assert jobs_url([first]) == change_url(first)
    listing = jobs_url([second, first])
    assert listing == f"{reverse('admin:leadops_jobrun_changelist')}?id__in={first.pk},{second.pk}"
    html = admin_client.get(listing).content.decode()
    assert change_url(first) in html and change_url(second) in html and change_url(other) not in html
