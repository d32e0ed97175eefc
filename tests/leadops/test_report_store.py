"""The weekly reports job: every group's and community's report written to media storage, listed in admin,
downloaded only by staff; and its beat entry."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from leadops.models import JobRun, StoredReport
from leadops.report_store import (
    WEEKLY_REPORTS_KIND,
    ReportsFailed,
    collect_report_sources,
    delete_stored_reports,
    start_weekly_reports,
    store_report,
)
from leadops.reports import Report, ReportSource, parse_csv
from leadops.schedules import sync_schedules
from leadops.tasks import scheduled_weekly_reports
from telegram_sources.models import Membership, TelegramGroup, TelegramUser
from tests.leadops.report_pages import page_rows, unquote_formula
from vk_sync.models import VkCommunity, VkSubscription, VkUser

pytestmark = pytest.mark.django_db


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def objects():
    now = timezone.now()
    group = TelegramGroup.objects.create(telegram_id=-100700, title="Synthetic weekly group")
    user = TelegramUser.objects.create(telegram_id=8001, username="weekly_example", gender="female")
    Membership.objects.create(group=group, user=user, first_seen_at=now - timedelta(days=2), last_seen_at=now)
    community = VkCommunity.objects.create(id=91, name="Synthetic weekly club")
    member = VkUser.objects.create(id=501, first_name="Vera", gender="female")
    VkSubscription.objects.create(community=community, user=member, first_joined_at=now)
    return group, community


def run_weekly(django_capture_on_commit_callbacks, **options) -> JobRun:
    with django_capture_on_commit_callbacks(execute=True):  # the task runs eagerly once the job row commits
        job = start_weekly_reports(**options)
    job.refresh_from_db()
    return job


def test_every_app_offers_its_reports():
    assert {source.kind for source in collect_report_sources()} == {"telegram", "vk"}


def test_the_weekly_job_writes_each_report_to_media_storage(media, objects, django_capture_on_commit_callbacks):
    group, community = objects

    job = run_weekly(django_capture_on_commit_callbacks)

    assert job.status == JobRun.Status.SUCCEEDED, job.error
    assert job.counters == {"telegram": 1, "vk": 1}
    stored = {(s.kind, s.object_id): s for s in StoredReport.objects.all()}
    assert set(stored) == {("telegram", group.pk), ("vk", community.pk)}
    for report in stored.values():
        for fmt in ("html", "csv", "json"):
            path = Path(getattr(report, fmt).path)
            assert path.is_file()
            assert re.fullmatch(
                rf"reports/\d{{4}}/\d{{2}}/{report.kind}-{report.object_id}-[\w-]+\.{fmt}", getattr(report, fmt).name
            )
            assert path.is_relative_to(media)
    telegram = stored[("telegram", group.pk)]
    assert telegram.title == "Telegram group report: Synthetic weekly group"
    html = Path(telegram.html.path).read_text()
    rows = parse_csv(Path(telegram.csv.path).read_text())
    assert sorted(page_rows(html)) == sorted((*row[:4], unquote_formula(row[4])) for row in rows)
    assert ("metric", "", "Members now", "", "1") in rows


def test_one_failing_report_fails_the_job_but_not_the_others(
    media, objects, django_capture_on_commit_callbacks, monkeypatch
):
    def broken(community):
        raise RuntimeError("synthetic failure")

    sources = [source for source in collect_report_sources() if source.kind == "telegram"]
    sources.append(ReportSource(kind="vk", objects=lambda: VkCommunity.objects.all(), build=broken))
    monkeypatch.setattr("leadops.report_store.collect_report_sources", lambda: sources)

    with pytest.raises(ReportsFailed):  # eager tasks re-raise (a worker would record it and move on)
        run_weekly(django_capture_on_commit_callbacks)

    job = JobRun.objects.get(kind=WEEKLY_REPORTS_KIND)
    assert job.status == JobRun.Status.FAILED
    assert "1 of 2 reports failed" in job.error
    assert "synthetic failure" in job.log_tail
    assert list(StoredReport.objects.values_list("kind", flat=True)) == ["telegram"]
    assert len(list(media.rglob("*.*"))) == 3  # the telegram report's files, nothing left of the failed one


def test_the_beat_entry_starts_the_job_once_a_week(media, objects, django_capture_on_commit_callbacks):
    sync_schedules()
    entry = PeriodicTask.objects.get(task="leadops.tasks.scheduled_weekly_reports")
    assert (entry.crontab.minute, entry.crontab.hour, entry.crontab.day_of_week) == ("0", "7", "1")

    with django_capture_on_commit_callbacks(execute=True):
        job_id = scheduled_weekly_reports()

    job = JobRun.objects.get(pk=job_id)
    assert (job.kind, job.trigger, job.status) == (WEEKLY_REPORTS_KIND, "schedule", "succeeded")
    assert StoredReport.objects.count() == 2


def test_the_admin_lists_stored_reports_with_download_links(media, objects, client, admin_client_user):
    group, _community = objects
    stored = store_report(report=Report(title="Synthetic stored report"), kind="telegram", object_id=group.pk)
    client.force_login(admin_client_user)

    page = client.get(reverse("admin:leadops_storedreport_changelist")).content.decode()

    assert "Synthetic stored report" in page
    for fmt in ("html", "csv", "json"):
        assert reverse("admin:leadops_storedreport_download", args=[stored.pk, fmt]) in page
    assert reverse("admin:telegram_sources_telegramgroup_change", args=[group.pk]) in page


def test_staff_download_the_files_through_the_admin(media, client, admin_client_user):
    stored = store_report(report=Report(title="Synthetic stored report"), kind="vk", object_id=5)
    client.force_login(admin_client_user)

    html = client.get(reverse("admin:leadops_storedreport_download", args=[stored.pk, "html"]))
    csv = client.get(reverse("admin:leadops_storedreport_download", args=[stored.pk, "csv"]))

    assert html.status_code == 200 and b"Synthetic stored report" in b"".join(html.streaming_content)
    assert "default-src 'none'" in html["Content-Security-Policy"]
    assert csv["Content-Disposition"].startswith("attachment;")
    assert b"".join(csv.streaming_content).decode() == Path(stored.csv.path).read_text()


def test_nobody_without_the_view_permission_downloads_a_stored_report(media, client, django_user_model):
    stored = store_report(report=Report(title="Synthetic stored report"), kind="vk", object_id=5)
    url = reverse("admin:leadops_storedreport_download", args=[stored.pk, "csv"])

    assert client.get(url).status_code == 302  # to the login page
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    clerk.user_permissions.set(Permission.objects.filter(codename="view_jobrun"))
    client.force_login(clerk)
    assert client.get(url).status_code == 403


def test_media_files_have_no_public_url(media, client):
    stored = store_report(report=Report(title="Synthetic stored report"), kind="vk", object_id=5)

    assert client.get(f"/media/{stored.csv.name}").status_code == 404


def test_a_missing_file_is_a_404_not_a_crash(media, client, admin_client_user):
    stored = store_report(report=Report(title="Synthetic stored report"), kind="vk", object_id=5)
    Path(stored.json.path).unlink()
    client.force_login(admin_client_user)

    assert client.get(reverse("admin:leadops_storedreport_download", args=[stored.pk, "json"])).status_code == 404


def test_deleting_a_stored_report_deletes_its_files(media):
    stored = store_report(report=Report(title="Synthetic stored report"), kind="vk", object_id=5)
    paths = [Path(getattr(stored, fmt).path) for fmt in ("html", "csv", "json")]

    delete_stored_reports(reports=StoredReport.objects.all())

    assert not StoredReport.objects.exists()
    assert not any(path.exists() for path in paths)
