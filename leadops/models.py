"""The shared core's data: one JobRun row per long job."""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """A long job as the operator sees it: what, on what, how far, how it ended."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        ABORTED = "aborted", _("Aborted")
        CANCELLED = "cancelled", _("Cancelled")

    class Trigger(models.TextChoices):
        USER = "user", _("user (admin)")
        SCHEDULE = "schedule", _("Schedule")
        COMMAND = "command", _("command line")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING)

    kind = models.CharField(max_length=64, db_index=True, verbose_name=_("kind"))
    target = models.CharField(max_length=255, blank=True, verbose_name=_("target"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, verbose_name=_("status"))
    progress_done = models.PositiveBigIntegerField(default=0, verbose_name=_("progress done"))
    progress_total = models.PositiveBigIntegerField(null=True, blank=True, verbose_name=_("progress total"))
    counters = models.JSONField(default=dict, blank=True, verbose_name=_("counters"))
    error = models.TextField(blank=True, verbose_name=_("error"))
    log_tail = models.TextField(blank=True, verbose_name=_("log tail"))
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.USER, verbose_name=_("trigger"))
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("triggered by"),
    )
    celery_task_id = models.CharField(max_length=255, blank=True, verbose_name=_("celery task id"))
    # An operator's cancel: the running service sees it between chunks (leadops.jobs.request_cancel).
    cancel_requested_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancel requested at"))
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("cancel requested by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    started_at = models.DateTimeField(null=True, blank=True, verbose_name=_("started at"))
    updated_at = models.DateTimeField(
        null=True, blank=True, help_text=_("the last progress write"), verbose_name=_("updated at")
    )
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))

    class Meta:
        verbose_name = _("job run")
        verbose_name_plural = _("job runs")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["-created_at"], name="jobrun_recent"),
            models.Index(fields=["status", "-created_at"], name="jobrun_status_recent"),
        ]
        permissions = [("cancel_jobrun", _("Can cancel a queued or running job"))]

    def __str__(self):
        target = f" {self.target}" if self.target else ""
        return f"{self.kind}{target} #{self.pk} ({self.status})"

    @property
    def is_active(self):
        return self.status in self.ACTIVE_STATUSES

    @property
    def can_cancel(self):
        return self.is_active and self.cancel_requested_at is None

    @property
    def percent(self):
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.progress_total:
            return None
        return min(100, int(100 * self.progress_done / self.progress_total))

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at


class StoredReport(models.Model):
    """A report the weekly job wrote to media storage: the same numbers as HTML, CSV and JSON.

    The files hold members' names, so they are never served from a public URL: staff
    download them through the admin (`StoredReportAdmin`), which checks the view permission.
    """

    class Kind(models.TextChoices):
        TELEGRAM = "telegram", _("Telegram group")
        VK = "vk", _("VK community")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    object_id = models.BigIntegerField(
        help_text=_("the TelegramGroup pk or the VK community id"), verbose_name=_("object id")
    )
    title = models.CharField(max_length=300, verbose_name=_("title"))
    period = models.CharField(
        max_length=32, blank=True, help_text=_("the days the report's series cover"), verbose_name=_("period")
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True, verbose_name=_("created at"))
    html = models.FileField(upload_to="reports/%Y/%m/", max_length=255, verbose_name=_("html"))
    csv = models.FileField(upload_to="reports/%Y/%m/", max_length=255, verbose_name=_("csv"))
    json = models.FileField(upload_to="reports/%Y/%m/", max_length=255, verbose_name=_("json"))

    class Meta:
        verbose_name = _("stored report")
        verbose_name_plural = _("stored reports")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["kind", "object_id", "-created_at"], name="storedreport_object_recent")]

    def __str__(self):
        return f"{self.title} ({self.created_at:%Y-%m-%d})"
