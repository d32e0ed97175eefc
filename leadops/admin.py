from django.contrib import admin
from django.utils.html import format_html

from .models import JobRun

admin.site.site_header = "leadops"
admin.site.site_title = "leadops"
admin.site.index_title = "Operations"


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
    fields = (
        "kind",
        "target",
        "status",
        "progress",
        "counters",
        "error",
        "log_tail",
        "trigger",
        "triggered_by",
        "celery_task_id",
        "created_at",
        "started_at",
        "finished_at",
    )
    readonly_fields = fields

    @admin.display(description="progress")
    def progress(self, obj):
        return progress_bar(obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        # Read-only: jobs are written by the services that run them.
        return False
