"""Seeder batches and the stale marks they set. Marks are never deleted: rolling
back revokes them, so the history of who was approved when stays readable."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from telegram_sources.models import TelegramUser


class SeederBatch(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved"
        ROLLED_BACK = "rolled_back", "rolled back"

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.APPROVED)
    rolled_back_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rolled_back_at = models.DateTimeField(null=True, blank=True)
    reference_snapshot_at = models.DateTimeField(
        null=True, blank=True, help_text="when the reference group was last refreshed before this approval"
    )
    rows_before = models.JSONField(default=list, blank=True, help_text="the marked users as they were (the .bak)")
    is_legacy_import = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "seeder batches"
        permissions = [("approve_seederbatch", "Can approve and roll back seeder batches")]

    def __str__(self):
        return self.reason


class StaleMarkQuerySet(models.QuerySet):
    def active(self, at=None):
        return self.filter(revoked_at__isnull=True, until__gt=at or timezone.now())


class StaleMark(models.Model):
    """ "Already considered": excludes the user from candidates until `until`, unless revoked."""

    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="stale_marks")
    batch = models.ForeignKey(SeederBatch, on_delete=models.PROTECT, related_name="marks")
    set_at = models.DateTimeField()
    until = models.DateTimeField()
    reason = models.CharField(max_length=255, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = StaleMarkQuerySet.as_manager()

    class Meta:
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
