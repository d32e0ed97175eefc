"""Seeder batches and the stale marks they set. Marks are never deleted: rolling
back revokes them, so the history of who was approved when stays readable."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from telegram_sources.models import TelegramUser


class SeederBatch(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", _("Approved")
        ROLLED_BACK = "rolled_back", _("rolled back")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    reason = models.CharField(max_length=255, verbose_name=_("reason"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPROVED, verbose_name=_("status"))
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("rolled back by"),
    )
    rolled_back_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rolled back at"))
    reference_snapshot_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("when the reference group was last refreshed before this approval"),
        verbose_name=_("reference snapshot at"),
    )
    rows_before = models.JSONField(
        default=list, blank=True, help_text=_("the marked users as they were (the .bak)"), verbose_name=_("rows before")
    )
    is_legacy_import = models.BooleanField(default=False, verbose_name=_("is legacy import"))

    class Meta:
        verbose_name = _("seeder batch")
        ordering = ["-created_at", "-id"]
        verbose_name_plural = _("seeder batches")
        permissions = [("approve_seederbatch", _("Can approve and roll back seeder batches"))]

    def __str__(self):
        return self.reason


class StaleMarkQuerySet(models.QuerySet):
    def active(self, at=None):
        return self.filter(revoked_at__isnull=True, until__gt=at or timezone.now())


class StaleMark(models.Model):
    """ "Already considered": excludes the user from candidates until `until`, unless revoked."""

    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="stale_marks", verbose_name=_("user"))
    batch = models.ForeignKey(SeederBatch, on_delete=models.PROTECT, related_name="marks", verbose_name=_("batch"))
    set_at = models.DateTimeField(verbose_name=_("set at"))
    until = models.DateTimeField(verbose_name=_("until"))
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("revoked by"),
    )

    objects = StaleMarkQuerySet.as_manager()

    class Meta:
        verbose_name = _("stale mark")
        verbose_name_plural = _("stale marks")
        ordering = ["-set_at"]
        indexes = [
            # The candidate query's NOT EXISTS: unrevoked marks of a user, by how long they last.
            models.Index(fields=["user", "until"], condition=Q(revoked_at__isnull=True), name="stalemark_active"),
        ]

    def __str__(self):
        return f"{self.user} stale until {self.until:%Y-%m-%d}"

    @property
    def is_active(self):
        return self.revoked_at is None and self.until > timezone.now()
