"""Companies from SERP results: upsert by canonical domain, and incremental deduplication.

Upsert: one company per canonical domain (lowercase, no `www.`, IDNA). A new one
takes its name from the title of its best-ranked result; its `website_url` is the
root of the site on the result's scheme and port (`https://<domain>/` usually), never
the result's URL (that stays on SerpResult).
An existing company keeps its name and URL (blank ones are filled) and gets the
latest sighting in `attributes["serp"]`.

Dedupe: the key is sha1(canonical domain), or sha1(lowercased name) for a company
without a domain. In each group of equal keys the oldest company (created_at, id)
is the primary; the others become `duplicate`, `opt_out=True`, `primary=<oldest>`.
A run only looks at companies changed since the previous run (its start time is
kept in a SearchBatchLog(kind="dedupe") row; OVERLAP covers transactions that
were still open then), plus the other members of the groups they are in or left.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone

from leadops.bulk import bulk_update_values, chunked

from ..models import Company, SearchBatchLog
from ..normalize import InvalidURL, canonical_domain, normalize_url

DEDUPE_KIND = "dedupe"
OVERLAP = timedelta(minutes=10)
NAME_MAX = Company._meta.get_field("name").max_length
SOURCE = "yandex_serp"


@dataclass(frozen=True)
class Candidate:
    """A company as one SERP result shows it."""

    domain: str  # canonical
    name: str = ""
    url: str = ""  # the normalised result URL
    position: int = 0
    language: str = ""


@dataclass
class UpsertResult:
    companies: dict[str, Company]  # canonical domain -> company
    created: int = 0
    updated: int = 0


def homepage_url(domain: str, result_url: str = "") -> str:
    """The site's root on the result's scheme and port (https and the default port without a result).

    A site that answered Yandex on plain http, or on another port (a demo emulator, an
    intranet-style host), is crawled where it lives, not on 443.
    """
    parts = urlsplit(result_url) if result_url else None
    scheme = parts.scheme if parts and parts.scheme in ("http", "https") else "https"
    port = f":{parts.port}" if parts and parts.port else ""  # normalize_url dropped default ports
    return normalize_url(f"{scheme}://{domain}{port}/")


def _normal_name(name: str) -> str:
    return " ".join((name or "").split()).lower()


def dedupe_key(name: str, domain: str) -> str:
    """sha1 of the canonical domain, else of the lowercased name; "" when there is neither."""
    basis = ""
    if domain and domain.strip():
        try:
            basis = canonical_domain(domain)
        except InvalidURL:
            basis = domain.strip().lower()
    if not basis:
        basis = _normal_name(name)
    return hashlib.sha1(basis.encode("utf-8")).hexdigest() if basis else ""


def _sighting(candidate: Candidate, query_text: str, now: datetime) -> dict:
    return {
        "last_seen": now.isoformat(),
        "query": query_text,
        "url": candidate.url,
        "position": candidate.position,
        "lang": candidate.language,
    }


def upsert_companies(candidates: list[Candidate], *, query_text: str = "", now: datetime | None = None) -> UpsertResult:
    """Create or refresh one company per candidate domain; call inside a transaction.

    Existing rows are locked (in id order) before their attributes are rewritten;
    new rows are inserted in domain order with ON CONFLICT DO NOTHING, so two
    ingests of overlapping results neither fail nor deadlock.
    """
    now = now or timezone.now()
    by_domain: dict[str, Candidate] = {}
    for candidate in candidates:
        by_domain.setdefault(candidate.domain, candidate)  # the first is the best ranked
    if not by_domain:
        return UpsertResult(companies={})
    domains = sorted(by_domain)
    existing: dict[str, Company] = {}
    for chunk in chunked(domains):
        rows = Company.objects.select_for_update().filter(canonical_domain__in=chunk).order_by("pk")
        existing.update((c.canonical_domain, c) for c in rows)

    new = []
    for domain in domains:
        if domain in existing:
            continue
        candidate = by_domain[domain]
        name = candidate.name[:NAME_MAX]
        new.append(
            Company(
                name=name,
                canonical_domain=domain,
                website_url=homepage_url(domain, candidate.url),
                dedupe_hash=dedupe_key(name, domain),
                attributes={"serp": _sighting(candidate, query_text, now)},
                source=SOURCE,
                created_at=now,
            )
        )
    if new:
        Company.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)

    refreshed = []
    for domain, company in existing.items():
        candidate = by_domain[domain]
        if not company.name and candidate.name:
            company.name = candidate.name[:NAME_MAX]
        if not company.website_url:
            company.website_url = homepage_url(domain, candidate.url)
        if not company.dedupe_hash:
            company.dedupe_hash = dedupe_key(company.name, domain)
        company.attributes = {**(company.attributes or {}), "serp": _sighting(candidate, query_text, now)}
        company.updated_at = now
        refreshed.append(company)
    if refreshed:
        bulk_update_values(refreshed, ["name", "website_url", "dedupe_hash", "attributes", "updated_at"])

    companies = dict(existing)
    created = 0
    missing = [d for d in domains if d not in existing]
    for chunk in chunked(missing):
        for company in Company.objects.filter(canonical_domain__in=chunk):
            companies[company.canonical_domain] = company
            # A concurrent ingest may have inserted the same domain first: it is not ours then.
            created += company.created_at == now
    return UpsertResult(companies=companies, created=created, updated=len(refreshed))


def _last_run_start() -> datetime | None:
    last = SearchBatchLog.objects.filter(kind=DEDUPE_KIND, finished_at__isnull=False).order_by("-started_at").first()
    return last.started_at if last else None


def dedupe(*, since: datetime | None = None) -> dict:
    """Mark later companies with the same dedupe key as duplicates of the oldest; returns counts.

    `since`: look at companies changed from then on; by default from the start of
    the previous run (minus OVERLAP), or at all companies on the first run.
    """
    started = timezone.now()
    if since is None:
        last = _last_run_start()
        since = last - OVERLAP if last else None
    with transaction.atomic():
        changed = Company.objects.all() if since is None else Company.objects.filter(updated_at__gte=since)
        changed = list(changed.only("pk", "name", "canonical_domain", "dedupe_hash"))
        affected: set[str] = set()
        rehashed = []
        for company in changed:
            key = dedupe_key(company.name, company.canonical_domain)
            if company.dedupe_hash:
                affected.add(company.dedupe_hash)  # the group it may be leaving
            if key:
                affected.add(key)
            if key != company.dedupe_hash:
                company.dedupe_hash = key
                rehashed.append(company)
        if rehashed:  # derived data: updated_at is left alone
            bulk_update_values(rehashed, ["dedupe_hash"])

        groups: dict[str, list[Company]] = {}
        for chunk in chunked(sorted(affected)):
            members = (
                Company.objects.select_for_update()
                .filter(dedupe_hash__in=chunk)
                .only("pk", "dedupe_hash", "status", "primary_id", "opt_out", "attributes", "created_at")
                .order_by("created_at", "pk")
            )
            for company in members:
                groups.setdefault(company.dedupe_hash, []).append(company)

        now = timezone.now()
        writes, marked, restored = [], 0, 0
        for members in groups.values():
            head, *rest = members
            if _restore(head, now):
                writes.append(head)
                restored += 1
            for company in rest:
                if _mark_duplicate(company, head, now):
                    writes.append(company)
                    marked += 1
        if writes:
            bulk_update_values(writes, ["status", "primary", "opt_out", "attributes", "updated_at"])

        counts = {
            "since": since.isoformat() if since else None,
            "examined": len(changed),
            "rehashed": len(rehashed),
            "groups": sum(1 for members in groups.values() if len(members) > 1),
            "duplicates": marked,
            "restored": restored,
        }
        SearchBatchLog.objects.create(kind=DEDUPE_KIND, started_at=started, finished_at=timezone.now(), counts=counts)
    return counts


def _mark_duplicate(company: Company, primary: Company, now: datetime) -> bool:
    if company.status == Company.Status.DUPLICATE and company.primary_id == primary.pk and company.opt_out:
        return False
    attributes = dict(company.attributes or {})
    mark = dict(attributes.get("dedupe") or {})
    if company.status != Company.Status.DUPLICATE:
        # What dedupe changed, so a company that stops being a duplicate gets it back.
        mark = {"previous_status": company.status, "set_opt_out": not company.opt_out}
    mark["marked_at"] = now.isoformat()
    attributes["dedupe"] = mark
    company.attributes = attributes
    company.status = Company.Status.DUPLICATE
    company.primary_id = primary.pk
    company.opt_out = True
    company.updated_at = now
    return True


def _restore(company: Company, now: datetime) -> bool:
    """The oldest of its group: no longer a duplicate if dedupe had made it one (never one marked by hand)."""
    mark = (company.attributes or {}).get("dedupe")
    if company.status != Company.Status.DUPLICATE or not isinstance(mark, dict):
        return False
    attributes = dict(company.attributes)
    attributes.pop("dedupe")
    company.attributes = attributes
    company.status = mark.get("previous_status") or Company.Status.NEW
    company.primary_id = None
    if mark.get("set_opt_out"):
        company.opt_out = False
    company.updated_at = now
    return True
