"""Telegram groups, the people in them, and who was in which group when."""

from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from leadops.gender import GENDERS
from leadops.indexes import NullsOrderIndex


class TelegramGroup(models.Model):
    class Kind(models.TextChoices):
        EVENT = "event", _("offline event")
        REFERENCE = "reference", _("Reference")
        OTHER = "other", _("Other")

    # Telethon's "marked" id: -100… for channels and supergroups.
    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True, verbose_name=_("telegram id"))
    title = models.CharField(max_length=255, blank=True, verbose_name=_("title"))
    username = models.CharField(max_length=64, blank=True, verbose_name=_("username"))
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.OTHER, verbose_name=_("kind"))
    event_date = models.DateField(
        null=True, blank=True, help_text=_("for event groups: when the event took place"), verbose_name=_("event date")
    )
    participants_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("participants count"))
    created_on = models.DateTimeField(
        null=True, blank=True, help_text=_("date of the group's first message"), verbose_name=_("created on")
    )
    last_exported_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last exported at"))
    last_export_coverage = models.FloatField(
        null=True,
        blank=True,
        help_text=_("members fetched / participants_count"),
        verbose_name=_("last export coverage"),
    )
    members_hidden = models.BooleanField(
        default=False, help_text=_("only admins are visible in the member list"), verbose_name=_("members hidden")
    )

    class Meta:
        verbose_name = _("Telegram group")
        verbose_name_plural = _("Telegram groups")
        ordering = ["-event_date", "title"]

    def __str__(self):
        return self.title or (f"@{self.username}" if self.username else str(self.telegram_id))


class TelegramUser(models.Model):
    # Null only for rows from a legacy import that knew just the username.
    telegram_id = models.BigIntegerField(unique=True, null=True, blank=True, verbose_name=_("telegram id"))
    username = models.CharField(max_length=64, blank=True, verbose_name=_("username"))
    first_name = models.CharField(max_length=255, blank=True, verbose_name=_("first name"))
    last_name = models.CharField(max_length=255, blank=True, verbose_name=_("last name"))
    phone = models.CharField(max_length=32, blank=True, verbose_name=_("phone"))
    is_bot = models.BooleanField(default=False, verbose_name=_("is bot"))
    is_premium = models.BooleanField(default=False, verbose_name=_("is premium"))
    is_verified = models.BooleanField(default=False, verbose_name=_("is verified"))
    status = models.CharField(
        max_length=32, blank=True, help_text=_("last-seen status as Telegram reported it"), verbose_name=_("status")
    )
    first_seen_at = models.DateTimeField(null=True, blank=True, verbose_name=_("first seen at"))
    last_offline_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last offline at"))
    offline_cnt = models.PositiveIntegerField(default=0, verbose_name=_("offline cnt"))
    in_reference = models.BooleanField(default=False, verbose_name=_("in reference"))
    reference_synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reference synced at"))
    # leadops.gender's estimate; "" = not computed yet. The export writer resets it when a name
    # changes, services.gender.refresh_genders fills it in. db_default: raw-SQL inserts start at "".
    gender = models.CharField(
        max_length=8, choices=GENDERS, blank=True, default="", db_default="", verbose_name=_("gender")
    )
    gender_rationale = models.JSONField(
        default=list, blank=True, db_default=[], help_text=_("the rules that fired"), verbose_name=_("gender rationale")
    )

    class Meta:
        verbose_name = _("Telegram user")
        verbose_name_plural = _("Telegram users")
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
            # The rows refresh_genders still has to do: empty once it has caught up.
            models.Index(fields=["id"], condition=models.Q(gender=""), name="tguser_gender_pending"),
        ]

    def __str__(self):
        if self.username:
            return f"@{self.username}"
        name = f"{self.first_name} {self.last_name}".strip()
        return name or str(self.telegram_id)


class Membership(models.Model):
    """A user seen in a group: first and last export that saw them, and when they left."""

    group = models.ForeignKey(
        TelegramGroup, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("group")
    )
    user = models.ForeignKey(TelegramUser, on_delete=models.CASCADE, related_name="memberships", verbose_name=_("user"))
    first_seen_at = models.DateTimeField(verbose_name=_("first seen at"))
    last_seen_at = models.DateTimeField(verbose_name=_("last seen at"))
    left_at = models.DateTimeField(null=True, blank=True, verbose_name=_("left at"))

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
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
        LISTING = "listing", _("Listing")
        SEARCH = "search", _("Search")

    group = models.OneToOneField(
        TelegramGroup, on_delete=models.CASCADE, related_name="export_checkpoint", verbose_name=_("group")
    )
    run_started_at = models.DateTimeField(
        help_text=_("memberships seen since then belong to this export"), verbose_name=_("run started at")
    )
    phase = models.CharField(max_length=16, choices=Phase.choices, default=Phase.LISTING, verbose_name=_("phase"))
    offset = models.PositiveIntegerField(
        default=0, help_text=_("position inside the current listing or query"), verbose_name=_("offset")
    )
    pending_queries = models.JSONField(default=list, blank=True, verbose_name=_("pending queries"))
    queries_done = models.PositiveIntegerField(default=0, verbose_name=_("queries done"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("export checkpoint")
        verbose_name_plural = _("export checkpoints")

    def __str__(self):
        return f"export of {self.group} ({self.phase}, offset {self.offset})"
