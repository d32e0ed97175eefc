"""Telegram groups, the people in them, and who was in which group when."""

from django.db import models
from django.db.models.functions import Lower

from leadops.indexes import NullsOrderIndex


class TelegramGroup(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event", "offline event"
        REFERENCE = "reference"
        OTHER = "other"

    # Telethon's "marked" id: -100… for channels and supergroups.
    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True)
    title = models.CharField(max_length=255, blank=True)
    username = models.CharField(max_length=64, blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER)
    event_date = models.DateField(null=True, blank=True, help_text="for event groups: when the event took place")
    participants_count = models.PositiveIntegerField(null=True, blank=True)
    created_on = models.DateTimeField(null=True, blank=True, help_text="date of the group's first message")
    last_exported_at = models.DateTimeField(null=True, blank=True)
    last_export_coverage = models.FloatField(null=True, blank=True, help_text="members fetched / participants_count")
    members_hidden = models.BooleanField(default=False, help_text="only admins are visible in the member list")

    class Meta:
        ordering = ["-event_date", "title"]

    def __str__(self):
        return self.title or (f"@{self.username}" if self.username else str(self.telegram_id))


class TelegramUser(models.Model):
    # Null only for rows from a legacy import that knew just the username.
    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True)
    username = models.CharField(max_length=64, blank=True)
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    is_bot = models.BooleanField(default=False)
    is_premium = models.BooleanField(default=False)
    is_verified = models.BooleanField(default=False)
    status = models.CharField(max_length=32, blank=True, help_text="last-seen status as Telegram reported it")
    first_seen_at = models.DateTimeField(null=True, blank=True)
    last_offline_at = models.DateTimeField(null=True, blank=True)
    offline_cnt = models.PositiveIntegerField(default=0)
    in_reference = models.BooleanField(default=False)
    reference_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(Lower("username"), name="tguser_username_ci"),
            models.Index(fields=["in_reference"], name="tguser_in_reference"),
            # The seeders' candidate order (seeders.selectors.candidates), so the top-N is
            # read straight off the index instead of sorting a million rows.
            NullsOrderIndex(
                models.F("offline_cnt").desc(),
                models.F("last_offline_at").desc(nulls_last=True),
                models.F("telegram_id").asc(nulls_last=True),
                condition=models.Q(in_reference=False, is_bot=False, telegram_id__isnull=False),
                # With the id in the index, walking past stale users is an index-only scan.
                include=["id"],
                name="tguser_seeder_candidates",
            ),
            # Legacy rows known only by username, looked up when an export brings their id.
            models.Index(Lower("username"), condition=models.Q(telegram_id__isnull=True), name="tguser_no_id_username"),
        ]

    def __str__(self):
        if self.username:
            return f"@{self.username}"
        name = f"{self.first_name} {self.last_name}".strip()
        return name or str(self.telegram_id)


class Membership(models.Model):
    """A user seen in a group: first and last export that saw them, and when they left."""

    group = models.ForeignKey(TelegramGroup, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="memberships")
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "user"], name="membership_group_user")]
        indexes = [models.Index(fields=["user", "group"], name="membership_user_group")]

    def __str__(self):
        return f"{self.user} in {self.group}"


class ExportCheckpoint(models.Model):
    """Where an unfinished export of a group stands, so a re-run resumes instead of starting over.

    Members fetched so far are already in the database; this row only remembers the
    position: the listing offset, then the search terms still to sweep.
    """

    class Phase(models.TextChoices):
        LISTING = "listing"
        SEARCH = "search"

    group = models.OneToOneField(TelegramGroup, on_delete=models.CASCADE, related_name="export_checkpoint")
    run_started_at = models.DateTimeField(help_text="memberships seen since then belong to this export")
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.LISTING)
    offset = models.PositiveIntegerField(default=0, help_text="position inside the current listing or query")
    pending_queries = models.JSONField(default=list, blank=True)
    queries_done = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"export of {self.group} ({self.phase}, offset {self.offset})"
