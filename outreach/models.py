"""Outreach I: the niches sheet, Yandex deferred searches and their results, companies."""

from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from leadops.fields import EncryptedTextField


class NicheRow(models.Model):
    """One row of the niches sheet, and what leadops wrote back to it."""

    sheet_row = models.PositiveIntegerField(
        unique=True, help_text=_("1-based row number in the sheet tab"), verbose_name=_("sheet row")
    )
    niche = models.CharField(max_length=255, verbose_name=_("niche"))
    city = models.CharField(max_length=128, blank=True, verbose_name=_("city"))
    country = models.CharField(max_length=128, blank=True, verbose_name=_("country"))
    batch_tag = models.CharField(max_length=64, blank=True, verbose_name=_("batch tag"))
    status = models.CharField(max_length=32, blank=True, verbose_name=_("status"))
    generated = models.PositiveIntegerField(default=0, verbose_name=_("generated"))
    inserted = models.PositiveIntegerField(default=0, verbose_name=_("inserted"))
    duplicates = models.PositiveIntegerField(default=0, verbose_name=_("duplicates"))
    first_scheduled_for = models.DateTimeField(null=True, blank=True, verbose_name=_("first scheduled for"))
    last_scheduled_for = models.DateTimeField(null=True, blank=True, verbose_name=_("last scheduled for"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    synced_at = models.DateTimeField(null=True, blank=True, verbose_name=_("synced at"))

    class Meta:
        verbose_name = _("niche row")
        verbose_name_plural = _("niche rows")
        ordering = ["sheet_row"]

    def __str__(self):
        return f"row {self.sheet_row}: {self.niche} {self.city or self.country}".strip()


class SerpQuery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        IN_PROGRESS = "in_progress", _("in progress")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    text = models.CharField(max_length=500, verbose_name=_("text"))
    lr = models.PositiveIntegerField(help_text=_("Yandex region id"), verbose_name=_("lr"))
    niche = models.CharField(max_length=255, blank=True, verbose_name=_("niche"))
    city = models.CharField(max_length=128, blank=True, verbose_name=_("city"))
    country = models.CharField(max_length=128, blank=True, verbose_name=_("country"))
    batch_tag = models.CharField(max_length=64, blank=True, verbose_name=_("batch tag"))
    hash = models.CharField(max_length=40, unique=True, help_text=_("sha1 of text|lr"), verbose_name=_("hash"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, verbose_name=_("status"))
    scheduled_for = models.DateTimeField(verbose_name=_("scheduled for"))
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    claimed_at = models.DateTimeField(
        null=True, blank=True, verbose_name=_("claimed at"), help_text=_("when a search run took it to start it")
    )
    niche_row = models.ForeignKey(
        NicheRow, null=True, blank=True, on_delete=models.SET_NULL, related_name="queries", verbose_name=_("niche row")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("SERP query")
        verbose_name_plural = _("SERP queries")
        indexes = [models.Index(fields=["status", "scheduled_for"], name="serpquery_due")]

    def __str__(self):
        return f"{self.text} (lr={self.lr})"


class SerpOperation(models.Model):
    class Status(models.TextChoices):
        CREATED = "created", _("Created")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    query = models.ForeignKey(SerpQuery, on_delete=models.CASCADE, related_name="operations", verbose_name=_("query"))
    operation_id = models.CharField(max_length=128, unique=True, verbose_name=_("operation id"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CREATED, verbose_name=_("status"))
    requested_at = models.DateTimeField(default=timezone.now, verbose_name=_("requested at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    retries = models.PositiveIntegerField(default=0, verbose_name=_("retries"))
    next_poll_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next poll at"))
    error_payload = models.JSONField(null=True, blank=True, verbose_name=_("error payload"))

    class Meta:
        verbose_name = _("SERP operation")
        verbose_name_plural = _("SERP operations")
        indexes = [models.Index(fields=["status", "next_poll_at"], name="serpoperation_due")]

    def __str__(self):
        return f"{self.operation_id} ({self.status})"


class SerpResult(models.Model):
    operation = models.ForeignKey(
        SerpOperation, on_delete=models.CASCADE, related_name="results", verbose_name=_("operation")
    )
    url = models.URLField(max_length=2000, verbose_name=_("url"))
    domain = models.CharField(max_length=255, db_index=True, verbose_name=_("domain"))
    title = models.TextField(blank=True, verbose_name=_("title"))
    snippet = models.TextField(blank=True, verbose_name=_("snippet"))
    position = models.PositiveIntegerField(verbose_name=_("position"))
    language = models.CharField(max_length=16, blank=True, verbose_name=_("language"))
    company = models.ForeignKey(
        "Company", null=True, blank=True, on_delete=models.SET_NULL, related_name="results", verbose_name=_("company")
    )

    class Meta:
        verbose_name = _("SERP result")
        verbose_name_plural = _("SERP results")
        constraints = [models.UniqueConstraint(fields=["operation", "url"], name="serpresult_unique")]

    def __str__(self):
        return f"#{self.position} {self.url}"


class Company(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        CONTACTS_PROCESSING = "contacts_processing", _("contacts processing")
        CONTACTS_READY = "contacts_ready", _("contacts ready")
        CONTACTS_NOT_FOUND = "contacts_not_found", _("contacts not found")
        DUPLICATE = "duplicate", _("Duplicate")

    name = models.CharField(max_length=500, blank=True, verbose_name=_("name"))
    canonical_domain = models.CharField(max_length=255, unique=True, verbose_name=_("canonical domain"))
    website_url = models.URLField(
        max_length=2000, blank=True, help_text=_("the homepage, not the result's URL"), verbose_name=_("website url")
    )
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW, verbose_name=_("status"))
    dedupe_hash = models.CharField(max_length=40, blank=True, db_index=True, verbose_name=_("dedupe hash"))
    primary = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates", verbose_name=_("primary")
    )
    attributes = models.JSONField(default=dict, blank=True, verbose_name=_("attributes"))
    opt_out = models.BooleanField(default=False, verbose_name=_("opt out"))
    source = models.CharField(max_length=32, default="yandex_serp", verbose_name=_("source"))
    homepage_excerpt = models.TextField(
        blank=True, help_text=_("visible text of the homepage, for the writer"), verbose_name=_("homepage excerpt")
    )
    enrich_attempts = models.PositiveIntegerField(default=0, verbose_name=_("enrich attempts"))
    enrich_after = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("not before then: the retry time, or the lease of the crawler working on it"),
        verbose_name=_("enrich after"),
    )
    enrich_error = models.TextField(blank=True, verbose_name=_("enrich error"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["updated_at"], name="company_changed"),
            # The enrichment claim (status + retry time) and the dashboard's count by status.
            models.Index(fields=["status", "enrich_after"], name="company_enrich_due"),
        ]

    def __str__(self):
        return self.name or self.canonical_domain


class SearchBatchLog(models.Model):
    """What one sheet sync (or search run) did, for the operator."""

    kind = models.CharField(max_length=32, verbose_name=_("kind"))
    batch_tag = models.CharField(max_length=64, blank=True, verbose_name=_("batch tag"))
    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    finished_at = models.DateTimeField(null=True, blank=True, verbose_name=_("finished at"))
    counts = models.JSONField(default=dict, blank=True, verbose_name=_("counts"))
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))

    class Meta:
        verbose_name = _("search batch log")
        verbose_name_plural = _("search batch logs")
        ordering = ["-started_at"]

    def __str__(self):
        return f"{self.kind} {self.batch_tag} {self.started_at:%Y-%m-%d %H:%M}"


class BlockedDomain(models.Model):
    """Results on these domains (and their subdomains) are never turned into companies."""

    domain = models.CharField(
        max_length=255, unique=True, help_text=_("e.g. avito.ru: blocks support.avito.ru too"), verbose_name=_("domain")
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))

    class Meta:
        verbose_name = _("blocked domain")
        verbose_name_plural = _("blocked domains")
        ordering = ["domain"]

    def __str__(self):
        return self.domain


# Outreach II: contacts, messages, opt-outs, mailboxes, the offer.


class Contact(models.Model):
    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="contacts", verbose_name=_("company"))
    email = models.EmailField(max_length=254, verbose_name=_("email"))
    source_url = models.URLField(max_length=2000, blank=True, verbose_name=_("source url"))
    score = models.FloatField(default=0, verbose_name=_("score"))
    is_primary = models.BooleanField(default=False, verbose_name=_("is primary"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "-score", "email"]
        constraints = [models.UniqueConstraint(Lower("email"), name="contact_email_ci")]

    def __str__(self):
        return self.email


class OutreachMessage(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")
        NEEDS_REVIEW = "needs_review", _("needs review")

    company = models.ForeignKey(Company, on_delete=models.CASCADE, related_name="messages", verbose_name=_("company"))
    contact = models.ForeignKey(Contact, on_delete=models.PROTECT, related_name="messages", verbose_name=_("contact"))
    subject = models.CharField(max_length=300, blank=True, verbose_name=_("subject"))
    body = models.TextField(blank=True, verbose_name=_("body"))
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, verbose_name=_("status"))
    scheduled_for = models.DateTimeField(null=True, blank=True, verbose_name=_("scheduled for"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))
    message_id = models.CharField(max_length=255, blank=True, verbose_name=_("message id"))
    mailbox = models.ForeignKey(
        "SenderMailbox", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("mailbox")
    )
    attempts = models.PositiveIntegerField(default=0, verbose_name=_("attempts"))
    lease_until = models.DateTimeField(
        null=True, blank=True, help_text=_("a sender owns this row until then"), verbose_name=_("lease until")
    )
    last_error = models.TextField(blank=True, verbose_name=_("last error"))
    metadata = models.JSONField(
        default=dict, blank=True, help_text=_("the LLM request, the route, fallback flags"), verbose_name=_("metadata")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("outreach message")
        verbose_name_plural = _("outreach messages")
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

    email = models.CharField(
        max_length=254, blank=True, help_text=_("lowercased; empty when a domain is opted out"), verbose_name=_("email")
    )
    domain = models.CharField(
        max_length=255, blank=True, help_text=_("lowercased; opts out every address on it"), verbose_name=_("domain")
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    source = models.CharField(
        max_length=32, default="admin", help_text=_("unsubscribe link, admin, CSV import …"), verbose_name=_("source")
    )
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))

    class Meta:
        verbose_name_plural = _("opt-outs")
        verbose_name = _("opt-out")
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
        RU = "ru", _("Russian-hosted recipients")
        OTHER = "other", _("everyone else")

    name = models.CharField(max_length=64, unique=True, verbose_name=_("name"))
    host = models.CharField(max_length=255, verbose_name=_("host"))
    port = models.PositiveIntegerField(default=587, verbose_name=_("port"))
    use_tls = models.BooleanField(default=True, help_text=_("STARTTLS"), verbose_name=_("use tls"))
    use_ssl = models.BooleanField(default=False, help_text=_("implicit TLS (port 465)"), verbose_name=_("use ssl"))
    username = models.CharField(max_length=255, blank=True, verbose_name=_("username"))
    password = EncryptedTextField(blank=True, verbose_name=_("password"))
    from_address = models.EmailField(verbose_name=_("from address"))
    daily_cap = models.PositiveIntegerField(default=50, verbose_name=_("daily cap"))
    route = models.CharField(max_length=8, choices=Route.choices, default=Route.OTHER, verbose_name=_("route"))
    active = models.BooleanField(default=True, verbose_name=_("active"))

    class Meta:
        verbose_name = _("sender mailbox")
        verbose_name_plural = _("sender mailboxes")
        ordering = ["route", "name"]

    def __str__(self):
        return f"{self.name} <{self.from_address}>"


class OfferBrief(models.Model):
    """What we offer and how we say it; the writer builds every email from the active brief."""

    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    offer = models.TextField(help_text=_("what we offer, in a few sentences"), verbose_name=_("offer"))
    tone = models.CharField(
        max_length=255, blank=True, help_text=_("e.g. friendly, concise, no hard sell"), verbose_name=_("tone")
    )
    signature = models.TextField(help_text=_("name, role and company that sign the email"), verbose_name=_("signature"))
    language = models.CharField(max_length=8, default="ru", verbose_name=_("language"))
    active = models.BooleanField(default=True, verbose_name=_("active"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("offer brief")
        verbose_name_plural = _("offer briefs")

    def __str__(self):
        return self.name
