"""VK communities, the tokens that read them, their members and who joined or left when.

VK's own ids are the primary keys of users and communities, so a sync diffs
plain integer sets against the database without any id mapping.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadops.fields import EncryptedTextField
from leadops.gender import GENDERS
from leadops.models import JobRun


class VkCommunity(models.Model):
    id = models.BigIntegerField(primary_key=True, help_text=_("VK group id (positive)"), verbose_name=_("id"))
    screen_name = models.CharField(max_length=128, blank=True, verbose_name=_("screen name"))
    name = models.CharField(max_length=255, blank=True, verbose_name=_("name"))
    members_count = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("members count"))
    # Per list ("subscribers", "subscriber-details", "posts", ...): {"at", "result", "counts"} of the last sync.
    last_sync = models.JSONField(default=dict, blank=True, verbose_name=_("last sync"))

    class Meta:
        verbose_name = _("VK community")
        verbose_name_plural = _("VK communities")
        ordering = ["name"]

    def __str__(self):
        return self.name or self.screen_name or f"club{self.id}"


class VkToken(models.Model):
    class Kind(models.TextChoices):
        USER = "user", _("User")
        COMMUNITY = "community", _("Community")
        SERVICE = "service", _("Service")

    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        INVALID = "invalid", _("Invalid")
        RATE_LIMITED = "rate_limited", _("rate limited")

    kind = models.CharField(max_length=16, choices=Kind.choices, verbose_name=_("kind"))
    token = EncryptedTextField(verbose_name=_("token"))
    label = models.CharField(max_length=128, unique=True, verbose_name=_("label"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, verbose_name=_("status"))
    rate_limited_until = models.DateTimeField(null=True, blank=True, verbose_name=_("rate limited until"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    communities = models.ManyToManyField(
        VkCommunity, through="VkTokenCommunity", related_name="tokens", blank=True, verbose_name=_("communities")
    )

    class Meta:
        verbose_name = _("VK token")
        verbose_name_plural = _("VK tokens")
        ordering = ["label"]

    def __str__(self):
        return self.label

    @property
    def is_usable(self) -> bool:
        if self.status == self.Status.INVALID:
            return False
        return self.rate_limited_until is None or self.rate_limited_until <= timezone.now()


class VkTokenCommunity(models.Model):
    """What a token may do in a community (admin level 3 = administrator: reposts need it)."""

    token = models.ForeignKey(VkToken, on_delete=models.CASCADE, verbose_name=_("token"))
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, verbose_name=_("community"))
    admin_level = models.PositiveSmallIntegerField(default=0, verbose_name=_("admin level"))
    checked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("checked at"))

    class Meta:
        verbose_name = _("VK token community")
        verbose_name_plural = _("VK token communities")
        constraints = [models.UniqueConstraint(fields=["token", "community"], name="vktokencommunity_unique")]

    def __str__(self):
        return f"{self.token} in {self.community}: admin level {self.admin_level}"


class VkUser(models.Model):
    id = models.BigIntegerField(primary_key=True, help_text=_("VK user id"), verbose_name=_("id"))
    first_name = models.CharField(max_length=255, blank=True, verbose_name=_("first name"))
    last_name = models.CharField(max_length=255, blank=True, verbose_name=_("last name"))
    sex = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text=_("VK: 1 female, 2 male, 0 unknown"), verbose_name=_("sex")
    )
    bdate = models.CharField(max_length=16, blank=True, verbose_name=_("bdate"))
    city = models.CharField(max_length=128, blank=True, verbose_name=_("city"))
    country = models.CharField(max_length=128, blank=True, verbose_name=_("country"))
    photo = models.URLField(max_length=500, blank=True, verbose_name=_("photo"))
    domain = models.CharField(max_length=128, blank=True, verbose_name=_("domain"))
    has_mobile = models.BooleanField(null=True, blank=True, verbose_name=_("has mobile"))
    is_closed = models.BooleanField(null=True, blank=True, verbose_name=_("is closed"))
    can_access_closed = models.BooleanField(null=True, blank=True, verbose_name=_("can access closed"))
    deactivated = models.CharField(max_length=32, blank=True, verbose_name=_("deactivated"))
    last_seen = models.DateTimeField(null=True, blank=True, verbose_name=_("last seen"))
    platform = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("platform"))
    details_refreshed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("details refreshed at"))
    # VK's own sex when it has one, else leadops.gender's estimate; "" = not computed yet (see
    # services.gender). db_default: the raw-SQL insert of new members starts at "".
    gender = models.CharField(
        max_length=8, choices=GENDERS, blank=True, default="", db_default="", verbose_name=_("gender")
    )
    gender_rationale = models.JSONField(
        default=list, blank=True, db_default=[], help_text=_("the rules that fired"), verbose_name=_("gender rationale")
    )

    class Meta:
        verbose_name_plural = _("VK users")
        verbose_name = _("VK user")
        indexes = [models.Index(fields=["id"], condition=Q(gender=""), name="vkuser_gender_pending")]

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"id{self.id}"


class VkSubscription(models.Model):
    community = models.ForeignKey(
        VkCommunity, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("community")
    )
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="subscriptions", verbose_name=_("user"))
    is_member = models.BooleanField(default=True, verbose_name=_("is member"))
    first_joined_at = models.DateTimeField(
        help_text=_("when a sync first saw them (VK does not say when they joined)"), verbose_name=_("first joined at")
    )
    left_at = models.DateTimeField(null=True, blank=True, verbose_name=_("left at"))

    class Meta:
        verbose_name = _("VK subscription")
        verbose_name_plural = _("VK subscriptions")
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vksubscription_unique")]
        indexes = [
            models.Index(fields=["community", "user"], condition=Q(is_member=True), name="vksubscription_members"),
        ]

    def __str__(self):
        state = "member" if self.is_member else "left"
        return f"id{self.user_id} in {self.community_id} ({state})"


class VkMembershipEvent(models.Model):
    class Kind(models.TextChoices):
        JOIN = "join", _("Join")
        LEAVE = "leave", _("Leave")

    community = models.ForeignKey(
        VkCommunity, on_delete=models.CASCADE, related_name="membership_events", verbose_name=_("community")
    )
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="+", verbose_name=_("user"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(verbose_name=_("at"))
    job = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("job")
    )

    class Meta:
        verbose_name = _("VK membership event")
        verbose_name_plural = _("VK membership events")
        ordering = ["-at"]
        indexes = [models.Index(fields=["community", "-at"], name="vkevent_recent")]

    def __str__(self):
        return f"id{self.user_id} {self.kind} {self.community_id} at {self.at:%Y-%m-%d %H:%M}"


class VkPost(models.Model):
    community = models.ForeignKey(
        VkCommunity, on_delete=models.CASCADE, related_name="posts", verbose_name=_("community")
    )
    post_id = models.BigIntegerField(verbose_name=_("post id"))
    date = models.DateTimeField(verbose_name=_("date"))
    text = models.TextField(blank=True, verbose_name=_("text"))
    from_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("from id"))
    signer_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("signer id"))
    created_by = models.BigIntegerField(null=True, blank=True, verbose_name=_("created by"))
    photo_url = models.URLField(max_length=500, blank=True, verbose_name=_("photo url"))
    likes_count = models.PositiveIntegerField(default=0, verbose_name=_("likes count"))
    comments_count = models.PositiveIntegerField(default=0, verbose_name=_("comments count"))
    reposts_count = models.PositiveIntegerField(default=0, verbose_name=_("reposts count"))
    views_count = models.PositiveIntegerField(default=0, verbose_name=_("views count"))
    interactions_synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("interactions synced at"))

    class Meta:
        verbose_name = _("VK post")
        verbose_name_plural = _("VK posts")
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["community", "post_id"], name="vkpost_unique")]
        indexes = [models.Index(fields=["community", "-date"], name="vkpost_recent")]

    def __str__(self):
        return f"wall-{self.community_id}_{self.post_id}"


class VkInteraction(models.Model):
    class Kind(models.TextChoices):
        LIKE = "like", _("Like")
        COMMENT = "comment", _("Comment")
        REPOST = "repost", _("Repost")

    post = models.ForeignKey(VkPost, on_delete=models.CASCADE, related_name="interactions", verbose_name=_("post"))
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="interactions", verbose_name=_("user"))
    kind = models.CharField(max_length=8, choices=Kind.choices, verbose_name=_("kind"))
    at = models.DateTimeField(
        null=True, blank=True, help_text=_("comments and reposts have a date; likes do not"), verbose_name=_("at")
    )
    comment_id = models.BigIntegerField(default=0, help_text=_("0 for likes and reposts"), verbose_name=_("comment id"))

    class Meta:
        verbose_name = _("VK interaction")
        verbose_name_plural = _("VK interactions")
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "kind", "comment_id"], name="vkinteraction_unique")
        ]
        indexes = [models.Index(fields=["user", "kind"], name="vkinteraction_user")]

    def __str__(self):
        return f"id{self.user_id} {self.kind} {self.post}"


class VkAuthor(models.Model):
    community = models.ForeignKey(
        VkCommunity, on_delete=models.CASCADE, related_name="authors", verbose_name=_("community")
    )
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="authored", verbose_name=_("user"))
    posts_count = models.PositiveIntegerField(default=0, verbose_name=_("posts count"))
    first_post_at = models.DateTimeField(null=True, blank=True, verbose_name=_("first post at"))
    last_post_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last post at"))

    class Meta:
        verbose_name = _("VK author")
        verbose_name_plural = _("VK authors")
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vkauthor_unique")]

    def __str__(self):
        return f"id{self.user_id} in {self.community_id}: {self.posts_count} posts"


class VkDialog(models.Model):
    community = models.ForeignKey(
        VkCommunity, on_delete=models.CASCADE, related_name="dialogs", verbose_name=_("community")
    )
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="dialogs", verbose_name=_("user"))
    can_write = models.BooleanField(null=True, blank=True, verbose_name=_("can write"))
    last_message_date = models.DateTimeField(null=True, blank=True, verbose_name=_("last message date"))
    first_message_date = models.DateTimeField(null=True, blank=True, verbose_name=_("first message date"))
    first_message_from_id = models.BigIntegerField(null=True, blank=True, verbose_name=_("first message from id"))
    analyzed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("analyzed at"))

    class Meta:
        verbose_name = _("VK dialog")
        verbose_name_plural = _("VK dialogs")
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vkdialog_unique")]
        indexes = [
            models.Index(fields=["community"], condition=Q(first_message_date__isnull=True), name="vkdialog_unanalyzed")
        ]

    def __str__(self):
        return f"dialog id{self.user_id} with {self.community_id}"
