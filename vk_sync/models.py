"""VK communities, the tokens that read them, their members and who joined or left when.

VK's own ids are the primary keys of users and communities, so a sync diffs
plain integer sets against the database without any id mapping.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from leadops.fields import EncryptedTextField
from leadops.models import JobRun


class VkCommunity(models.Model):
    id = models.BigIntegerField(primary_key=True, help_text="VK group id (positive)")
    screen_name = models.CharField(max_length=128, blank=True)
    name = models.CharField(max_length=255, blank=True)
    members_count = models.PositiveIntegerField(null=True, blank=True)
    # Per list ("subscribers", "subscriber-details", "posts", ...): {"at", "result", "counts"} of the last sync.
    last_sync = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name_plural = "VK communities"
        ordering = ["name"]

    def __str__(self):
        return self.name or self.screen_name or f"club{self.id}"


class VkToken(models.Model):
    class Kind(models.TextChoices):
        USER = "user"
        COMMUNITY = "community"
        SERVICE = "service"

    class Status(models.TextChoices):
        ACTIVE = "active"
        INVALID = "invalid"
        RATE_LIMITED = "rate_limited", "rate limited"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    token = EncryptedTextField()
    label = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    rate_limited_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    communities = models.ManyToManyField(VkCommunity, through="VkTokenCommunity", related_name="tokens", blank=True)

    class Meta:
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

    token = models.ForeignKey(VkToken, on_delete=models.CASCADE)
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE)
    admin_level = models.PositiveSmallIntegerField(default=0)
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "community"], name="vktokencommunity_unique")]

    def __str__(self):
        return f"{self.token} in {self.community}: admin level {self.admin_level}"


class VkUser(models.Model):
    id = models.BigIntegerField(primary_key=True, help_text="VK user id")
    first_name = models.CharField(max_length=255, blank=True)
    last_name = models.CharField(max_length=255, blank=True)
    sex = models.PositiveSmallIntegerField(null=True, blank=True, help_text="VK: 1 female, 2 male, 0 unknown")
    bdate = models.CharField(max_length=16, blank=True)
    city = models.CharField(max_length=128, blank=True)
    country = models.CharField(max_length=128, blank=True)
    photo = models.URLField(max_length=500, blank=True)
    domain = models.CharField(max_length=128, blank=True)
    has_mobile = models.BooleanField(null=True, blank=True)
    is_closed = models.BooleanField(null=True, blank=True)
    can_access_closed = models.BooleanField(null=True, blank=True)
    deactivated = models.CharField(max_length=32, blank=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    platform = models.PositiveSmallIntegerField(null=True, blank=True)
    details_refreshed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "VK user"

    def __str__(self):
        name = f"{self.first_name} {self.last_name}".strip()
        return name or f"id{self.id}"


class VkSubscription(models.Model):
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, related_name="subscriptions")
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="subscriptions")
    is_member = models.BooleanField(default=True)
    first_joined_at = models.DateTimeField(help_text="when a sync first saw them (VK does not say when they joined)")
    left_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vksubscription_unique")]
        indexes = [
            models.Index(fields=["community", "user"], condition=Q(is_member=True), name="vksubscription_members"),
        ]

    def __str__(self):
        state = "member" if self.is_member else "left"
        return f"id{self.user_id} in {self.community_id} ({state})"


class VkMembershipEvent(models.Model):
    class Kind(models.TextChoices):
        JOIN = "join"
        LEAVE = "leave"

    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, related_name="membership_events")
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField()
    job = models.ForeignKey(JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-at"]
        indexes = [models.Index(fields=["community", "-at"], name="vkevent_recent")]

    def __str__(self):
        return f"id{self.user_id} {self.kind} {self.community_id} at {self.at:%Y-%m-%d %H:%M}"


class VkPost(models.Model):
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, related_name="posts")
    post_id = models.BigIntegerField()
    date = models.DateTimeField()
    text = models.TextField(blank=True)
    from_id = models.BigIntegerField(null=True, blank=True)
    signer_id = models.BigIntegerField(null=True, blank=True)
    created_by = models.BigIntegerField(null=True, blank=True)
    photo_url = models.URLField(max_length=500, blank=True)
    likes_count = models.PositiveIntegerField(default=0)
    comments_count = models.PositiveIntegerField(default=0)
    reposts_count = models.PositiveIntegerField(default=0)
    views_count = models.PositiveIntegerField(default=0)
    interactions_synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-date"]
        constraints = [models.UniqueConstraint(fields=["community", "post_id"], name="vkpost_unique")]
        indexes = [models.Index(fields=["community", "-date"], name="vkpost_recent")]

    def __str__(self):
        return f"wall-{self.community_id}_{self.post_id}"


class VkInteraction(models.Model):
    class Kind(models.TextChoices):
        LIKE = "like"
        COMMENT = "comment"
        REPOST = "repost"

    post = models.ForeignKey(VkPost, on_delete=models.CASCADE, related_name="interactions")
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="interactions")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    at = models.DateTimeField(null=True, blank=True, help_text="comments and reposts have a date; likes do not")
    comment_id = models.BigIntegerField(default=0, help_text="0 for likes and reposts")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "user", "kind", "comment_id"], name="vkinteraction_unique")
        ]
        indexes = [models.Index(fields=["user", "kind"], name="vkinteraction_user")]

    def __str__(self):
        return f"id{self.user_id} {self.kind} {self.post}"


class VkAuthor(models.Model):
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, related_name="authors")
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="authored")
    posts_count = models.PositiveIntegerField(default=0)
    first_post_at = models.DateTimeField(null=True, blank=True)
    last_post_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vkauthor_unique")]

    def __str__(self):
        return f"id{self.user_id} in {self.community_id}: {self.posts_count} posts"


class VkDialog(models.Model):
    community = models.ForeignKey(VkCommunity, on_delete=models.CASCADE, related_name="dialogs")
    user = models.ForeignKey(VkUser, on_delete=models.CASCADE, related_name="dialogs")
    can_write = models.BooleanField(null=True, blank=True)
    last_message_date = models.DateTimeField(null=True, blank=True)
    first_message_date = models.DateTimeField(null=True, blank=True)
    first_message_from_id = models.BigIntegerField(null=True, blank=True)
    analyzed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["community", "user"], name="vkdialog_unique")]
        indexes = [
            models.Index(fields=["community"], condition=Q(first_message_date__isnull=True), name="vkdialog_unanalyzed")
        ]

    def __str__(self):
        return f"dialog id{self.user_id} with {self.community_id}"
