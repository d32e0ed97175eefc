"""Outreach I: the niches sheet, Yandex deferred searches and their results, companies."""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from leadops.fields import EncryptedTextField


class NicheRow(models.Model):
    """One row of the niches sheet, and what leadops wrote back to it."""

    sheet_row = models.PositiveIntegerField(unique=True, help_text="1-based row number in the sheet tab")
    niche = models.CharField(max_length=255)
    city = models.CharField(max_length=128, blank=True)
    country = models.CharField(max_length=128, blank=True)
    batch_tag = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=32, blank=True)
    generated = models.PositiveIntegerField(default=0)
    inserted = models.PositiveIntegerField(default=0)
    duplicates = models.PositiveIntegerField(default=0)
    first_scheduled_for = models.DateTimeField(null=True, blank=True)
    last_scheduled_for = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["sheet_row"]

    def __str__(self):
        return f"row {self.sheet_row}: {self.niche} {self.city or self.country}".strip()


class SerpQuery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        IN_PROGRESS = "in_progress", "in progress"
        COMPLETED = "completed"
        FAILED = "failed"

    text = models.CharField(max_length=500)
    lr = models.PositiveIntegerField(help_text="Yandex region id")
    niche = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=128, blank=True)
    country = models.CharField(max_length=128, blank=True)
    batch_tag = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=40, unique=True, help_text="sha1 of text|lr")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    scheduled_for = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    niche_row = models.ForeignKey(NicheRow, null=True, blank=True, on_delete=models.SET_NULL, related_name="queries")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["status", "scheduled_for"], name="serpquery_due")]

    def __str__(self):
        return f"{self.text} (lr={self.lr})"


class SerpOperation(models.Model):
    class Status(models.TextChoices):
        CREATED = "created"
        DONE = "done"
        FAILED = "failed"

    query = models.ForeignKey(SerpQuery, on_delete=models.CASCADE, related_name="operations")
    operation_id = models.CharField(max_length=128, unique=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED)
    requested_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    retries = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    error_payload = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "next_poll_at"], name="serpoperation_due")]

    def __str__(self):
        return f"{self.operation_id} ({self.status})"


class SerpResult(models.Model):
    operation = models.ForeignKey(SerpOperation, on_delete=models.CASCADE, related_name="results")
    url = models.URLField(max_length=2000)
    domain = models.CharField(max_length=255, db_index=True)
    title = models.TextField(blank=True)
    snippet = models.TextField(blank=True)
    position = models.PositiveIntegerField()
    language = models.CharField(max_length=16, blank=True)
    company = models.ForeignKey("Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="results")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["operation", "url"], name="serpresult_unique")]

    def __str__(self):
        return f"#{self.position} {self.url}"


class Company(models.Model):
    class Status(models.TextChoices):
        NEW = "new"
        CONTACTS_PROCESSING = "contacts_processing", "contacts processing"
        CONTACTS_READY = "contacts_ready", "contacts ready"
        CONTACTS_NOT_FOUND = "contacts_not_found", "contacts not found"
        DUPLICATE = "duplicate"

    name = models.CharField(max_length=500, blank=True)
    canonical_domain = models.CharField(max_length=255, unique=True)
    website_url = models.URLField(max_length=2000, blank=True, help_text="the homepage, not the result's URL")
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW)
    dedupe_hash = models.CharField(max_length=40, blank=True, db_index=True)
    primary = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates")
    attributes = models.JSONField(default=dict, blank=True)
    opt_out = models.BooleanField(default=False)
    source = models.CharField(max_length=32, default="yandex_serp")
    homepage_excerpt = models.TextField(blank=True, help_text="visible text of the homepage, for the writer")
    enrich_attempts = models.PositiveIntegerField(default=0)
    enrich_after = models.DateTimeField(
        null=True, blank=True, help_text="not before then: the retry time, or the lease of the crawler working on it"
    )
    enrich_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "companies"
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["updated_at"], name="company_changed")]

    def __str__(self):
        return self.name or self.canonical_domain


class SearchBatchLog(models.Model):
    """What one sheet sync (or search run) did, for the operator."""

    kind = models.CharField(max_length=32)
    batch_tag = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} {self.batch_tag} {self.started_at:%Y-%m-%d %H:%M}"


class BlockedDomain(models.Model):
    """Results on these domains (and their subdomains) are never turned into companies."""

    domain = models.CharField(max_length=255, unique=True, help_text="e.g. avito.ru: blocks support.avito.ru too")
    reason = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["domain"]

    def __str__(self):
        return self.domain


# Outreach II: contacts, messages, opt-outs, mailboxes, the offer.


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts")
    email = models.EmailField(max_length=254)
    source_url = models.URLField(max_length=2000, blank=True)
    score = models.FloatField(default=0)
    is_primary = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_primary", "-score", "email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="contact_email_ci")]

    def __str__(self):
        return self.email


class OutreachMessage(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft"
        SCHEDULED = "scheduled"
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"
        SKIPPED = "skipped"
        NEEDS_REVIEW = "needs_review", "needs review"

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="messages")
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="messages")
    subject = models.CharField(max_length=300, blank=True)
    body = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255, blank=True)
    mailbox = models.ForeignKey("SenderMailbox", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    attempts = models.PositiveIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True, help_text="a sender owns this row until then")
    last_error = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="the LLM request, the route, fallback flags")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One message per company: the queue can never produce a second one, whoever runs it.
            models.UniqueConstraint(fields=["company"], name="outreachmessage_one_per_company"),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="outreachmessage_due"),
            models.Index(fields=["status", "lease_until"], name="outreachmessage_leases"),
            models.Index(fields=["mailbox", "sent_at"], name="outreachmessage_sent"),
        ]

    def __str__(self):
        return f"{self.subject or '(no subject)'} → {self.contact}"


class OptOut(models.Model):
    """An address or a whole domain that is never emailed again."""

    email = models.CharField(max_length=254, blank=True, help_text="lowercased; empty when a domain is opted out")
    domain = models.CharField(max_length=255, blank=True, help_text="lowercased; opts out every address on it")
    reason = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=32, default="admin", help_text="unsubscribe link, admin, CSV import …")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "opt-out"
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["email"], condition=~models.Q(email=""), name="optout_email"),
            models.UniqueConstraint(fields=["domain"], condition=~models.Q(domain=""), name="optout_domain"),
            models.CheckConstraint(
                condition=(models.Q(email="") & ~models.Q(domain="")) | (~models.Q(email="") & models.Q(domain="")),
                name="optout_email_or_domain",
            ),
        ]

    def __str__(self):
        return self.email or f"*@{self.domain}"


class SenderMailbox(models.Model):
    class Route(models.TextChoices):
        RU = "ru", "Russian-hosted recipients"
        OTHER = "other", "everyone else"

    name = models.CharField(max_length=64, unique=True)
    host = models.CharField(max_length=255)
    port = models.PositiveIntegerField(default=587)
    use_tls = models.BooleanField(default=True, help_text="STARTTLS")
    use_ssl = models.BooleanField(default=False, help_text="implicit TLS (port 465)")
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    from_address = models.EmailField()
    daily_cap = models.PositiveIntegerField(default=50)
    route = models.CharField(max_length=8, choices=Route.choices, default=Route.OTHER)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["route", "name"]

    def __str__(self):
        return f"{self.name} <{self.from_address}>"


class OfferBrief(models.Model):
    """What we offer and how we say it; the writer builds every email from the active brief."""

    name = models.CharField(max_length=100, unique=True)
    offer = models.TextField(help_text="what we offer, in a few sentences")
    tone = models.CharField(max_length=255, blank=True, help_text="e.g. friendly, concise, no hard sell")
    signature = models.TextField(help_text="name, role and company that sign the email")
    language = models.CharField(max_length=8, default="ru")
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.name
