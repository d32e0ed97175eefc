"""Admin building blocks every app uses: count-free pagination for big tables,
read-only admins, job links and countdowns."""

from datetime import timedelta
from math import ceil

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext


class EstimatedCountPaginator(Paginator):
    """A paginator that never counts a whole big table.

    It counts at most `cap + 1` rows (`SELECT COUNT(*) FROM (... LIMIT cap+1)`):
    up to `cap` the count is exact. Past it, an unfiltered queryset on PostgreSQL
    takes the planner's row estimate (`pg_class.reltuples`, kept fresh by
    autovacuum/ANALYZE) so every page stays reachable; anything else reports
    `cap + 1` and shows "more than 10,000" (narrow the list with a filter or a
    search to page further). `count_label` is what the templates show.
    """

    cap = 10_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.count_label = None  # None: the count is exact

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return super().count
        bounded = queryset.order_by().values("pk")[: self.cap + 1].count()
        if bounded <= self.cap:
            return bounded
        estimate = None if queryset.query.has_filters() else table_row_estimate(queryset)
        if estimate and estimate > self.cap:
            self.count_label = gettext("about %(count)s") % {"count": f"{estimate:,}"}
            return estimate
        self.count_label = gettext("more than %(count)s") % {"count": f"{self.cap:,}"}
        return bounded


def table_row_estimate(queryset) -> int | None:
    """PostgreSQL's estimate of the table's rows (None elsewhere, or before the first ANALYZE)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    return row[0] if row and row[0] > 0 else None


class BigTableAdmin(admin.ModelAdmin):
    """Changelist settings for tables with millions of rows: no full counts, no facet counts."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


class ReadOnlyAdminMixin:
    """Rows written by exports and imports: staff look, never edit."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def changelist_link(model, label, **params) -> str:
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
    return format_html('<a href="{}?{}">{}</a>', url, urlencode(params), label)


def countdown(delta: timedelta) -> str:
    """`in 2 h 13 min`, `in 5 min`, `in 3 d 4 h`; rounded up to the minute (it is not back any earlier)."""
    minutes = max(1, ceil(delta.total_seconds() / 60))
    if minutes >= 24 * 60:  # days and hours, the hours rounded up as well
        days, hours = divmod(ceil(minutes / 60), 24)
        if hours:
            return gettext("in %(days)s d %(hours)s h") % {"days": days, "hours": hours}
        return gettext("in %(days)s d") % {"days": days}
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return gettext("in %(hours)s h %(minutes)s min") % {"hours": hours, "minutes": minutes}
    if hours:
        return gettext("in %(hours)s h") % {"hours": hours}
    return gettext("in %(minutes)s min") % {"minutes": minutes}


def future_time(value, *, now=None) -> str:
    """A moment with its countdown when it is still ahead; "—" when unset or past."""
    now = now or timezone.now()
    if not value or value <= now:
        return "—"
    return format_html('<span title="{} UTC">{}</span>', f"{value:%Y-%m-%d %H:%M}", countdown(value - now))


def jobrun_url(job) -> str:
    return reverse("admin:leadops_jobrun_change", args=[job.pk])


def jobs_url(jobs) -> str:
    """The page to follow jobs on: the job's own page (live progress, Cancel), or the job list filtered to them."""
    jobs = list(jobs)
    if len(jobs) == 1:
        return jobrun_url(jobs[0])
    ids = ",".join(str(job.pk) for job in sorted(jobs, key=lambda job: job.pk))
    return f"{reverse('admin:leadops_jobrun_changelist')}?id__in={ids}"


def jobs_redirect(jobs) -> HttpResponseRedirect | None:
    """Where an admin action that started jobs sends the operator; None (the changelist) when it started none."""
    jobs = list(jobs)
    return HttpResponseRedirect(jobs_url(jobs)) if jobs else None


def job_links(jobs) -> str:
    return format_html_join(", ", '<a href="{}">#{} {}</a>', ((jobrun_url(job), job.pk, job.target) for job in jobs))
