"""Enrichment: read each new company's website for e-mail addresses and a homepage excerpt.

Companies are claimed a few at a time with SKIP LOCKED and the claim is committed
before any site is fetched (status `contacts_processing`, `enrich_after` = the lease),
so parallel workers never crawl the same site and a worker that dies only delays it:
its lease runs out and the next run claims the company again.

A site with no address is `contacts_not_found` and is tried again, days apart, up to
MAX_ATTEMPTS times; a site or DNS lookup that failed transiently is tried again sooner
and does not count as "not found".
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone

from ..enrichment import SiteScan, scan_site
from ..models import Company, Contact

MAX_ATTEMPTS = 3
RETRY_NOT_FOUND = timedelta(days=3)
RETRY_TRANSIENT = timedelta(hours=1)
LEASE = timedelta(minutes=15)
EXCERPT_MAX = 2000


@dataclass
class EnrichResult:
    claimed: int = 0
    ready: int = 0
    not_found: int = 0
    retry: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "claimed": self.claimed,
            "ready": self.ready,
            "not_found": self.not_found,
            "retry": self.retry,
            "errors": len(self.errors),
        }


def due_for_enrichment(now: datetime):
    """New companies, expired leases, and not-found ones whose retry time has come."""
    waited = Q(enrich_after__isnull=True) | Q(enrich_after__lte=now)
    return Company.objects.filter(opt_out=False).filter(
        (Q(status=Company.Status.NEW) & waited)
        | Q(status=Company.Status.CONTACTS_PROCESSING, enrich_after__lte=now)
        | Q(status=Company.Status.CONTACTS_NOT_FOUND, enrich_attempts__lt=MAX_ATTEMPTS, enrich_after__lte=now)
    )


def claim_companies(*, now: datetime, limit: int) -> list[Company]:
    with transaction.atomic():
        claimed = list(
            due_for_enrichment(now)
            .exclude(website_url="")
            .select_for_update(skip_locked=True)
            .order_by("created_at", "pk")[:limit]
        )
        Company.objects.filter(pk__in=[c.pk for c in claimed]).update(
            status=Company.Status.CONTACTS_PROCESSING, enrich_after=now + LEASE
        )
    return claimed


def enrich_companies(*, limit: int = 5, now: datetime | None = None, scan=scan_site) -> EnrichResult:
    now = now or timezone.now()
    result = EnrichResult()
    for company in claim_companies(now=now, limit=limit):
        result.claimed += 1
        try:
            scan_result = scan(company.website_url)
        except Exception as exc:  # one site's surprise must not stop the batch; it is retried later
            _finish(company, status=Company.Status.NEW, after=now + RETRY_TRANSIENT, error=f"{type(exc).__name__}")
            result.errors.append(f"{company}: {type(exc).__name__}: {exc}")
            result.retry += 1
            continue
        outcome = store_scan(company=company, scan=scan_result, now=now)
        setattr(result, outcome, getattr(result, outcome) + 1)
    return result


def store_scan(*, company: Company, scan: SiteScan, now: datetime) -> str:
    """Write what the scan found; returns "ready", "not_found" or "retry"."""
    excerpt = (scan.excerpt or company.homepage_excerpt)[:EXCERPT_MAX]
    if scan.emails:
        with transaction.atomic():
            added = _store_contacts(company, scan)
            if added:
                _finish(company, status=Company.Status.CONTACTS_READY, after=None, error="", excerpt=excerpt)
                return "ready"
    if scan.retry_later:
        error = "; ".join(scan.errors[:3]) or "an MX lookup failed; trying again later"
        _finish(company, status=Company.Status.NEW, after=now + RETRY_TRANSIENT, error=error, excerpt=excerpt)
        return "retry"
    attempts = company.enrich_attempts + 1
    _finish(
        company,
        status=Company.Status.CONTACTS_NOT_FOUND,
        after=now + RETRY_NOT_FOUND if attempts < MAX_ATTEMPTS else None,
        error="; ".join(scan.errors[:3]) or "no e-mail address on the site",
        excerpt=excerpt,
        attempts=attempts,
    )
    return "not_found"


def _store_contacts(company: Company, scan: SiteScan) -> int:
    """Best address primary, the rest secondary. An address another company already has stays theirs."""
    taken = set(
        Contact.objects.annotate(low=Lower("email"))
        .filter(low__in=[e.email for e in scan.emails])
        .exclude(company=company)
        .values_list("low", flat=True)
    )
    mine = [e for e in scan.emails if e.email not in taken]
    if not mine:
        return 0
    Contact.objects.filter(company=company).update(is_primary=False)
    for index, found in enumerate(mine):
        values = {"score": found.score, "is_primary": index == 0, "source_url": scan.final_url or scan.url}
        updated = Contact.objects.annotate(low=Lower("email")).filter(company=company, low=found.email)
        if not updated.update(**values):
            try:
                with transaction.atomic():
                    Contact.objects.create(company=company, email=found.email, **values)
            except IntegrityError:  # another company's crawler stored it a moment ago: theirs
                continue
    return Contact.objects.filter(company=company, is_primary=True).count()


def _finish(company, *, status, after, error, excerpt=None, attempts=None) -> None:
    fields = {"status": status, "enrich_after": after, "enrich_error": error[:2000]}
    if excerpt is not None:
        fields["homepage_excerpt"] = excerpt
    if attempts is not None:
        fields["enrich_attempts"] = attempts
    # Only while we hold the claim: a company an operator changed meanwhile is left as they set it.
    Company.objects.filter(pk=company.pk, status=Company.Status.CONTACTS_PROCESSING).update(**fields)
