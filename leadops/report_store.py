"""Writing reports to media storage: one report, or every app's reports in the weekly job.

Apps offer their reports as `REPORT_SOURCES` (a list of `leadops.reports.ReportSource`)
in their `reports.py`, the way they offer beat entries in `schedules.py`; this module
collects them without knowing the apps. Files go to the default storage (MEDIA_ROOT,
never the repository) under `reports/<year>/<month>/`, and each report is listed as a
`StoredReport` row in the admin, where staff download it.
"""

import logging
from importlib import import_module

from django.apps import apps
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from .jobs import start_job_once, track_job
from .models import JobRun, StoredReport
from .reports import Report, ReportSource, render_csv, render_html, render_json

log = logging.getLogger(__name__)

WEEKLY_REPORTS_KIND = "weekly-reports"
WEEKLY_REPORTS_TARGET = "every Telegram group and VK community"
RENDERERS = {"html": render_html, "csv": render_csv, "json": render_json}


class ReportsFailed(Exception):
    """Some reports of the weekly job could not be written (the others were)."""


def collect_report_sources() -> list[ReportSource]:
    """Every installed app's `reports.REPORT_SOURCES`, in INSTALLED_APPS order."""
    found: list[ReportSource] = []
    for config in apps.get_app_configs():
        if module_has_submodule(config.module, "reports"):
            found.extend(getattr(import_module(f"{config.name}.reports"), "REPORT_SOURCES", []))
    return found


def store_report(*, report: Report, kind: str, object_id: int) -> StoredReport:
    """Render `report` three ways, write the files to media storage and list them as a StoredReport."""
    created_at = timezone.now()
    stored = StoredReport(
        kind=kind, object_id=object_id, title=report.title[:300], period=report.period[:32], created_at=created_at
    )
    stem = f"{kind}-{object_id}-{created_at:%Y%m%d-%H%M%S}"
    written = []
    try:
        for fmt, render in RENDERERS.items():
            field = getattr(stored, fmt)
            field.save(f"{stem}.{fmt}", ContentFile(render(report).encode("utf-8")), save=False)
            written.append(field)
        stored.save()
    except BaseException:
        for field in written:  # no file without its row: nothing would ever list or delete it
            field.delete(save=False)
        raise
    return stored


def delete_stored_reports(*, reports) -> int:
    """Delete StoredReport rows and their files (a row alone would leave the files behind for good)."""
    count = 0
    for stored in reports:
        with transaction.atomic():
            for fmt in RENDERERS:
                field = getattr(stored, fmt)
                if field.name:
                    field.delete(save=False)
            stored.delete()
        count += 1
    return count


def write_weekly_reports(*, job_id: int) -> int:
    """Every source's report for every object; returns how many were written.

    One report that fails is logged and counted and the others are still written;
    the job then fails with the count, so the operator sees it.
    """
    with track_job(job_id) as reporter:
        work = [(source, list(source.objects())) for source in collect_report_sources()]
        reporter.set_total(sum(len(objects) for _, objects in work))
        written = failed = 0
        for source, objects in work:
            for obj in objects:
                try:
                    store_report(report=source.build(obj), kind=source.kind, object_id=obj.pk)
                except Exception as exc:
                    failed += 1
                    reporter.count("failed")
                    reporter.log(f"{source.kind} {obj.pk} ({obj}): {type(exc).__name__}: {exc}")
                    log.exception("report of %s %s failed", source.kind, obj.pk)
                else:
                    written += 1
                    reporter.count(source.kind)
                reporter.advance()
        reporter.log(f"{written} report(s) written" + (f", {failed} failed" if failed else ""))
        if failed:
            raise ReportsFailed(f"{failed} of {written + failed} reports failed (see the log)")
    return written


def start_weekly_reports(*, trigger: str = JobRun.Trigger.USER, user=None) -> JobRun:
    """A JobRun for `write_weekly_reports`, enqueued (or the one already queued or running)."""
    from .tasks import write_weekly_reports_task

    return start_job_once(
        kind=WEEKLY_REPORTS_KIND,
        task=write_weekly_reports_task,
        target=WEEKLY_REPORTS_TARGET,
        trigger=trigger,
        user=user,
    )
