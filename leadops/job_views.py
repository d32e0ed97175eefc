"""The job page's live parts: a small JSON of how far the job got, polled by
static/leadops/job_progress.js, and Cancel.

Both live under the JobRun admin (`JobRunAdmin.get_urls`), so they need a staff
login; the JSON also needs the view permission, Cancel the `cancel_jobrun` one.
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext

from .jobs import request_cancel
from .models import JobRun

LOG_LINES = 20  # what the page shows of the log tail
CANCEL_PERMISSION = "leadops.cancel_jobrun"


def progress_payload(job: JobRun) -> dict:
    return {
        "id": job.pk,
        "status": job.status,
        "status_display": job.get_status_display(),
        "done": job.progress_done,
        "total": job.progress_total,
        "percent": job.percent,
        "counters": job.counters,
        "error": job.error,
        "log_tail": job.log_tail.splitlines()[-LOG_LINES:],
        "finished": not job.is_active,
        "cancel_requested": job.cancel_requested_at is not None,
        "can_cancel": job.can_cancel,
        # Rows from before `updated_at` existed: the last moment known.
        "updated_at": (job.updated_at or job.finished_at or job.started_at or job.created_at).isoformat(),
    }


def job_urls(model_admin) -> list:
    """The URLs to put in front of the JobRun admin's own."""
    wrap = model_admin.admin_site.admin_view

    def progress_view(request, pk: int):
        if not model_admin.has_view_permission(request):
            raise PermissionDenied
        job = get_object_or_404(JobRun, pk=pk)
        return JsonResponse(progress_payload(job))  # admin_view marks it never_cache: always the row as it is now

    def cancel_view(request, pk: int):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not request.user.has_perm(CANCEL_PERMISSION):
            raise PermissionDenied
        job = request_cancel(get_object_or_404(JobRun, pk=pk), user=request.user)
        if job.status == JobRun.Status.CANCELLED and not job.started_at:
            model_admin.message_user(
                request, gettext("Job #%(id)s cancelled: it had not started.") % {"id": job.pk}, messages.SUCCESS
            )
        elif job.is_active:
            model_admin.message_user(
                request,
                gettext("Cancel requested: job #%(id)s stops after the step it is on; what it wrote so far stays.")
                % {"id": job.pk},
                messages.SUCCESS,
            )
        else:
            model_admin.message_user(
                request,
                gettext("Job #%(id)s had already ended (%(status)s).")
                % {"id": job.pk, "status": job.get_status_display()},
                messages.WARNING,
            )
        return HttpResponseRedirect(reverse("admin:leadops_jobrun_change", args=[job.pk]))

    return [
        path("<int:pk>/progress.json", wrap(progress_view), name="leadops_jobrun_progress"),
        path("<int:pk>/cancel/", wrap(cancel_view), name="leadops_jobrun_cancel"),
    ]


def change_page_context(request, object_id) -> dict:
    """What the change page template needs besides the row."""
    if not str(object_id).isdigit():
        return {}  # not a job id: the admin answers "doesn't exist" by itself
    return {
        "job_progress_url": reverse("admin:leadops_jobrun_progress", args=[object_id]),
        "job_cancel_url": reverse("admin:leadops_jobrun_cancel", args=[object_id]),
        "may_cancel_job": request.user.has_perm(CANCEL_PERMISSION),
    }
