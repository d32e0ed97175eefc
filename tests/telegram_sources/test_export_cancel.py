"""Cancel during an export: it stops between pages with its rows and position committed together,
marks nobody as left, and the next export resumes from there."""

import pytest

from leadops import jobs
from leadops.jobs import JobWasCancelled, request_cancel
from leadops.models import JobRun
from telegram_sources.fake_world import synthetic_people
from telegram_sources.models import ExportCheckpoint, Membership, TelegramGroup
from telegram_sources.services import export as export_service
from telegram_sources.services.jobs import run_group_export

pytestmark = pytest.mark.django_db
GROUP_ID = -1009


class CancelOnPage(list):
    """The fake Telegram's request log: the operator presses Cancel while page `page` is on its way."""

    def __init__(self, job, page: int):
        super().__init__()
        self.job, self.page, self.pages = job, page, 0

    def append(self, request):
        super().append(request)
        if request[2] == "get_participants":
            self.pages += 1
            if self.pages == self.page:
                request_cancel(self.job, user=None)


def test_a_cancelled_export_keeps_whole_pages_and_resumes_from_them(world, clock, new_job, monkeypatch):
    monkeypatch.setattr(jobs, "FLUSH_INTERVAL", 0.0)  # every report looks at the flag (in production: 1/s)
    monkeypatch.setattr(export_service, "FLUSH_ROWS", 400)  # a commit every two pages of 200
    world.add_group(GROUP_ID, "Meetup", synthetic_people(2_000, seed=9))
    group = TelegramGroup.objects.create(telegram_id=GROUP_ID)
    job = new_job()
    world.requests = CancelOnPage(job, page=5)

    with pytest.raises(JobWasCancelled):
        run_group_export(group_id=group.pk, job_id=job.pk, account="acct-1")

    job.refresh_from_db()
    assert job.status == JobRun.Status.CANCELLED and not job.error
    assert "cancelled: stopped between steps" in job.log_tail
    checkpoint = ExportCheckpoint.objects.get(group=group)
    # The page under way was kept, with its position: rows and checkpoint agree, nothing half-written.
    assert checkpoint.offset == 5 * 200
    assert Membership.objects.filter(group=group).count() == 1_000 == job.progress_done
    group.refresh_from_db()
    assert group.last_exported_at is None  # the export did not finish
    assert not Membership.objects.filter(left_at__isnull=False).exists()

    world.requests = []
    again = new_job()
    result = run_group_export(group_id=group.pk, job_id=again.pk, account="acct-1")

    assert result.fetched == 2_000 and result.left == 0
    assert Membership.objects.filter(group=group).count() == 2_000
    assert not ExportCheckpoint.objects.filter(group=group).exists()
    again.refresh_from_db()
    assert again.status == JobRun.Status.SUCCEEDED and "resuming: listing at offset 1000" in again.log_tail
    pages_asked = [m for _, _, m in world.requests if m == "get_participants"]
    assert len(pages_asked) == 5 + 1  # pages 6-10 and the empty one after them: resumed, not restarted
