"""The job page in a real browser: the bar follows the job without a reload, Cancel asks first,
and the page settles on how the job ended (static/leadops/job_progress.js)."""

from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django.urls import reverse

from leadops.jobs import create_job
from leadops.models import JobRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture
def logged_in(live_server, browser_page):
    get_user_model().objects.create_superuser("admin", "", "browser-test-password")
    page = browser_page
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "browser-test-password")
    page.click("input[type=submit]")
    page.wait_for_selector("#content")
    yield page
    # The ORM calls made while Playwright's loop runs got a connection of their own: close it too.
    connections.close_all()


def open_job(live_server, page, job):
    page.goto(live_server.url + reverse("admin:leadops_jobrun_change", args=[job.pk]))
    page.wait_for_selector("#job-progress")


def test_the_bar_follows_the_job_to_100_percent(live_server, logged_in):
    page = logged_in
    job = create_job(kind="vk-subscribers", target="Synthetic community")
    JobRun.objects.filter(pk=job.pk).update(status=JobRun.Status.RUNNING, progress_total=8)
    open_job(live_server, page, job)
    assert page.get_attribute("#job-progress", "data-percent") == "0"

    JobRun.objects.filter(pk=job.pk).update(progress_done=2, log_tail="12:00:00 chunk 2 of 8")
    page.wait_for_selector('#job-progress[data-percent="25"]')
    assert page.inner_text("#job-progress-text") == "2 / 8 (25%)"
    page.wait_for_selector(".field-log_tail .readonly >> text=chunk 2 of 8")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "job-page-running.png"), full_page=True)

    JobRun.objects.filter(pk=job.pk).update(progress_done=8, status=JobRun.Status.SUCCEEDED)
    page.wait_for_selector('#job-status[data-status="succeeded"]')
    page.wait_for_selector('#job-live[data-active="false"]')  # the reload: the page as it ended
    assert page.get_attribute("#job-progress", "data-percent") == "100"
    assert not page.is_visible("#job-cancel")


def test_cancel_asks_first_then_stops_a_queued_job(live_server, logged_in):
    page = logged_in
    job = create_job(kind="vk-subscribers", target="Synthetic community")
    open_job(live_server, page, job)

    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#job-cancel")
    page.wait_for_timeout(300)
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.QUEUED  # said no: nothing happened

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#job-cancel")
    page.wait_for_selector("text=cancelled: it had not started")
    assert page.get_attribute("#job-status", "data-status") == "cancelled"
    assert not page.is_visible("#job-cancel")
    assert JobRun.objects.get(pk=job.pk).status == JobRun.Status.CANCELLED
