from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from .job_views import change_page_context, job_urls
from .models import JobRun, StoredReport
from .report_store import delete_stored_reports
from .report_views import FORMATS, stored_report_response

admin.site.site_header = "leadops"
admin.site.site_title = "leadops"
admin.site.index_title = _("Operations")


def progress_bar(job: JobRun) -> str:
    percent = job.percent
    total = job.progress_total or "?"
    if percent is None:
        return format_html('<span class="jobrun-progress">{} / {}</span>', job.progress_done, total)
    return format_html(
        '<progress class="jobrun-progress" style="width: 6em" max="100" value="{}"></progress> {} / {}',
        percent,
        job.progress_done,
        total,
    )


@admin.register(JobRun)
class JobRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "target",
        "status",
        "progress",
        "trigger",
        "triggered_by",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "kind", "trigger")
    search_fields = ("kind", "target", "celery_task_id", "error")
    date_hierarchy = "created_at"
    list_select_related = ("triggered_by",)
    # The progress bar and Cancel are above these, live (change_form.html, job_views).
    fields = (
        "kind",
        "target",
        "status",
        "counters",
        "error",
        "log_tail",
        "trigger",
        "triggered_by",
        "celery_task_id",
        "created_at",
        "started_at",
        "updated_at",
        "finished_at",
        "cancel_requested_at",
        "cancel_requested_by",
    )
    readonly_fields = fields

    @admin.display(description=_("progress"))
    def progress(self, obj):
        return progress_bar(obj)

    def get_urls(self):
        return [*job_urls(self), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), **change_page_context(request, object_id)}
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only: jobs are written by the services that run them.
        return False


# The admin page of each kind's object, by URL name (no import of the apps).
REPORT_OBJECT_ADMIN = {
    StoredReport.Kind.TELEGRAM: "admin:telegram_sources_telegramgroup_change",
    StoredReport.Kind.VK: "admin:vk_sync_vkcommunity_change",
}


@admin.register(StoredReport)
class StoredReportAdmin(admin.ModelAdmin):
    """The weekly job's reports. Files are downloaded through `download_view` (staff with the view
    permission), never from a public media URL: they hold members' names."""

    list_display = ("title", "kind", "about", "period", "created_at", "downloads")
    list_filter = ("kind",)
    search_fields = ("title",)
    date_hierarchy = "created_at"
    fields = ("title", "kind", "about", "period", "created_at", "downloads")
    readonly_fields = fields

    @admin.display(description=_("object"))
    def about(self, stored):
        try:
            url = reverse(REPORT_OBJECT_ADMIN[stored.kind], args=[stored.object_id])
        except (KeyError, NoReverseMatch):
            return stored.object_id
        return format_html('<a href="{}">{} #{}</a>', url, stored.get_kind_display(), stored.object_id)

    @admin.display(description=_("download"))
    def downloads(self, stored):
        links = (
            (reverse("admin:leadops_storedreport_download", args=[stored.pk, fmt]), fmt, fmt.upper())
            for fmt in FORMATS
            if getattr(stored, fmt).name
        )
        return format_html_join(" · ", '<a class="stored-report-{}" href="{}">{}</a>', ((f, u, t) for u, f, t in links))

    def get_urls(self):
        download = self.admin_site.admin_view(self.download_view)
        return [
            path("<int:pk>/download/<str:fmt>/", download, name="leadops_storedreport_download"),
            *super().get_urls(),
        ]

    def download_view(self, request, pk: int, fmt: str):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return stored_report_response(get_object_or_404(StoredReport, pk=pk), fmt=fmt)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # written by the weekly job

    def delete_model(self, request, obj):
        delete_stored_reports(reports=[obj])

    def delete_queryset(self, request, queryset):
        delete_stored_reports(reports=queryset)
