"""The Jobs card: what runs now (with its progress bar) and what failed in the last 24 hours."""

from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from leadops.admin import progress_bar
from leadops.models import JobRun

from . import Card, CardSpec, Snapshot, Stat, admin_url

PERM = "leadops.view_jobrun"
SHOWN = 8  # rows of each list; the counts above them are complete
FAILURES = (JobRun.Status.FAILED, JobRun.Status.ABORTED)


@dataclass
class JobRow:
    job: JobRun
    url: str
    bar: str = ""  # leadops.admin.progress_bar: the same <progress> as the job list


@dataclass
class JobsData:
    stats: list[Stat] = field(default_factory=list)
    active: list[JobRow] = field(default_factory=list)
    failures: list[JobRow] = field(default_factory=list)


def build(snap: Snapshot) -> Card:
    # Every query starts with status: a range on the jobrun_status_recent index (status, -created_at).
    since = snap.now - timedelta(hours=24)
    counts = {
        row["status"]: row["n"]
        for row in JobRun.objects.filter(status__in=JobRun.ACTIVE_STATUSES)
        .values("status")
        .annotate(n=Count("pk"))
        .order_by()
    }
    failed = JobRun.objects.filter(status__in=FAILURES).filter(
        Q(finished_at__gte=since) | Q(finished_at__isnull=True, created_at__gte=since)
    )
    failures = list(failed.order_by("-created_at", "-id")[:SHOWN])
    failed_count = len(failures) if len(failures) < SHOWN else failed.count()
    active = JobRun.objects.filter(status__in=JobRun.ACTIVE_STATUSES).order_by("-created_at", "-id")[:SHOWN]
    data = JobsData(
        active=[JobRow(job, admin_url("leadops_jobrun_change", job.pk), progress_bar(job)) for job in active],
        failures=[JobRow(job, admin_url("leadops_jobrun_change", job.pk)) for job in failures],
    )
    changelist = "leadops_jobrun_changelist"
    data.stats = [
        Stat(
            "jobs_running", gettext("running"), counts.get("running", 0), admin_url(changelist, status__exact="running")
        ),
        Stat("jobs_queued", gettext("queued"), counts.get("queued", 0), admin_url(changelist, status__exact="queued")),
        Stat(
            "jobs_failed_24h",
            gettext("failed in 24 h"),
            failed_count,
            admin_url(changelist, status__exact="failed"),
            "bad" if failed_count else "",
        ),
    ]
    return Card(
        name="jobs",
        title=gettext("Jobs"),
        url=admin_url(changelist),
        template="admin/leadops/dashboard/jobs.html",
        data=data,
    )


SPEC = CardSpec(
    name="jobs",
    title=_("Jobs"),
    visible=lambda snap: snap.can(PERM),
    build=build,
    url=lambda snap: admin_url("leadops_jobrun_changelist"),
)
