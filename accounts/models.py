"""The Telegram account pool and the groups the Smart Joiner joins with it."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadops.fields import EncryptedTextField


class TelegramAccount(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        FLOOD_WAIT = "flood_wait", _("flood wait")
        COOLDOWN = "cooldown", _("Cooldown")
        BANNED = "banned", _("Banned")
        DISABLED = "disabled", _("Disabled")

    session_name = models.CharField(max_length=64, unique=True, verbose_name=_("session name"))
    phone = EncryptedTextField(blank=True, default="", verbose_name=_("phone"))
    api_id = EncryptedTextField(verbose_name=_("api id"))
    api_hash = EncryptedTextField(verbose_name=_("api hash"))
    string_session = EncryptedTextField(verbose_name=_("string session"))
    proxy_url = EncryptedTextField(blank=True, default="", verbose_name=_("proxy url"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    next_allowed_action_time = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("a cooling-down account is usable again from then on, by itself"),
        verbose_name=_("next allowed action time"),
    )
    channels_joined_count = models.PositiveIntegerField(default=0, verbose_name=_("channels joined count"))
    last_action_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last action at"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    # A lease, not a flag: one worker drives the account at a time (a session used from two
    # places at once gets revoked); a crashed worker's lease simply runs out.
    locked_by = models.CharField(max_length=64, blank=True, verbose_name=_("locked by"))
    locked_until = models.DateTimeField(null=True, blank=True, verbose_name=_("locked until"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("Telegram account")
        verbose_name_plural = _("Telegram accounts")
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
        NEW = "new", _("New")
        JOINED = "joined", _("Joined")
        ERROR = "error", _("Error")
        BANNED = "banned", _("Banned")

    link = models.CharField(
        max_length=255, help_text=_("as given: https://t.me/x, @x, t.me/+hash, joinchat/hash"), verbose_name=_("link")
    )
    username = models.CharField(
        max_length=64, blank=True, help_text=_("normalised: @name (public groups)"), verbose_name=_("username")
    )
    invite_hash = models.CharField(
        max_length=64, blank=True, help_text=_("private groups: the invite's hash"), verbose_name=_("invite hash")
    )
    niche = models.CharField(max_length=64, db_index=True, verbose_name=_("niche"))
    title = models.CharField(max_length=255, blank=True, verbose_name=_("title"))
    telegram_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("telegram id"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW, verbose_name=_("status"))
    assigned_account = models.ForeignKey(
        TelegramAccount,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="targets",
        verbose_name=_("assigned account"),
    )
    joined_at = models.DateTimeField(null=True, blank=True, verbose_name=_("joined at"))
    warmup_ends_at = models.DateTimeField(null=True, blank=True, verbose_name=_("warmup ends at"))
    can_post = models.BooleanField(null=True, blank=True, verbose_name=_("can post"))
    error_message = models.TextField(blank=True, verbose_name=_("error message"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    claimed_by = models.CharField(max_length=64, blank=True, verbose_name=_("claimed by"))
    claimed_until = models.DateTimeField(null=True, blank=True, verbose_name=_("claimed until"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("join target")
        verbose_name_plural = _("join targets")
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
