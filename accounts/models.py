"""The Telegram account pool and the groups the Smart Joiner joins with it."""

from django.db import models
from django.utils import timezone

from leadops.fields import EncryptedTextField


class TelegramAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        FLOOD_WAIT = "flood_wait", "flood wait"
        COOLDOWN = "cooldown"
        BANNED = "banned"
        DISABLED = "disabled"

    session_name = models.CharField(max_length=64, unique=True)
    phone = EncryptedTextField(blank=True, default="")
    api_id = EncryptedTextField()
    api_hash = EncryptedTextField()
    string_session = EncryptedTextField()
    proxy_url = EncryptedTextField(blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    next_allowed_action_time = models.DateTimeField(
        null=True, blank=True, help_text="a cooling-down account is usable again from then on, by itself"
    )
    channels_joined_count = models.PositiveIntegerField(default=0)
    last_action_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # A lease, not a flag: one worker drives the account at a time (a session used from two
    # places at once gets revoked); a crashed worker's lease simply runs out.
    locked_by = models.CharField(max_length=64, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["session_name"]

    def __str__(self):
        return self.session_name

    @property
    def cooldown_remaining(self):
        if self.next_allowed_action_time and self.next_allowed_action_time > timezone.now():
            return self.next_allowed_action_time - timezone.now()
        return None


class JoinTarget(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        JOINED = "joined"
        ERROR = "error"
        BANNED = "banned"

    link = models.CharField(max_length=255, help_text="as given: https://t.me/x, @x, t.me/+hash, joinchat/hash")
    username = models.CharField(max_length=64, blank=True, help_text="normalised: @name (public groups)")
    invite_hash = models.CharField(max_length=64, blank=True, help_text="private groups: the invite's hash")
    niche = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=255, blank=True)
    telegram_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    assigned_account = models.ForeignKey(
        TelegramAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="targets"
    )
    joined_at = models.DateTimeField(null=True, blank=True)
    warmup_ends_at = models.DateTimeField(null=True, blank=True)
    can_post = models.BooleanField(null=True, blank=True)
    error_message = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["niche", "username"], condition=~models.Q(username=""), name="jointarget_niche_username"
            ),
            models.UniqueConstraint(
                fields=["niche", "invite_hash"], condition=~models.Q(invite_hash=""), name="jointarget_niche_invite"
            ),
            models.CheckConstraint(condition=~models.Q(username="", invite_hash=""), name="jointarget_has_ref"),
        ]
        indexes = [
            models.Index(fields=["assigned_account", "joined_at"], name="jointarget_account_joins"),
            models.Index(fields=["niche", "status", "created_at"], name="jointarget_queue"),
        ]

    def __str__(self):
        return self.username or f"invite {self.invite_hash[:6]}…"
