"""What a company's website says about how to reach it: crawl, extract, check, choose.

    scan = scan_site("https://example.ru")
    scan.primary, scan.secondary   # ScoredEmail or None, [ScoredEmail, ...]
    scan.excerpt                   # the homepage's visible text, cleaned, capped
    scan.retry_later               # the site or a DNS lookup failed transiently
    scan.as_json()                 # for `manage.py outreach enrich --url URL --dry-run`

No database access here: the outreach service that stores contacts calls this and
decides what an empty result means (`contacts_not_found`, unless `retry_later`).

The MX check: every address's domain is looked up once (outreach.mx, cached). A domain
that definitely accepts no mail (NXDOMAIN, no MX and no A, null MX) drops its addresses;
a lookup that failed this time keeps them and sets `mx_transient`, so the caller can
check again later.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from .crawl import crawl_site
from .extract import ScoredEmail, extract_with_rejections, merge_emails, pick_primary, visible_text_excerpt
from .mx import MxResolver, MxResult, lookup_mx
from .normalize import InvalidURL, canonical_domain

EXCERPT_LIMIT = 2000


@dataclass
class SiteScan:
    url: str
    final_url: str = ""
    primary: ScoredEmail | None = None
    secondary: list[ScoredEmail] = field(default_factory=list)
    excerpt: str = ""
    mx: dict[str, MxResult] = field(default_factory=dict)  # e-mail domain -> lookup result
    mx_transient: bool = False  # some kept address's domain could not be looked up this time
    site_transient: bool = False  # the site could not be read this time
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (address, why) after the MX check
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (candidate, why): junk, bad syntax
    pages: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    blocked_by_robots: list[str] = field(default_factory=list)

    @property
    def emails(self) -> list[ScoredEmail]:
        return ([self.primary] if self.primary else []) + self.secondary

    @property
    def retry_later(self) -> bool:
        return self.mx_transient or self.site_transient

    def as_json(self) -> dict:
        return {
            "url": self.url,
            "final_url": self.final_url,
            "primary": self.primary.as_dict() if self.primary else None,
            "secondary": [e.as_dict() for e in self.secondary],
            "mx": {domain: result.as_dict() for domain, result in self.mx.items()},
            "mx_transient": self.mx_transient,
            "site_transient": self.site_transient,
            "retry_later": self.retry_later,
            "dropped": [{"email": e, "reason": r} for e, r in self.dropped],
            "rejected": [{"candidate": c, "reason": r} for c, r in self.rejected],
            "pages": self.pages,
            "errors": self.errors,
            "skipped": self.skipped,
            "blocked_by_robots": self.blocked_by_robots,
            "excerpt": self.excerpt,
        }


def _base_domain(url: str) -> str | None:
    try:
        return canonical_domain(url) if url else None
    except InvalidURL:
        return None


def scan_site(
    url: str, *, fetch: Callable | None = None, resolver: MxResolver | None = None, max_pages: int = 12
) -> SiteScan:
    crawl = crawl_site(url, fetch=fetch, max_pages=max_pages)
    scan = SiteScan(
        url=url,
        final_url=crawl.final_url,
        site_transient=crawl.transient,
        pages=[page.url for page in crawl.pages],
        errors=crawl.errors,
        skipped=crawl.skipped,
        blocked_by_robots=crawl.blocked_by_robots,
    )
    base_domain = _base_domain(crawl.final_url or url)
    found = []
    for page in crawl.pages:
        extraction = extract_with_rejections(page.html, base_domain=base_domain)
        found.append(extraction.emails)
        scan.rejected += [r for r in extraction.rejected if r not in scan.rejected]
    if crawl.homepage is not None:
        scan.excerpt = visible_text_excerpt(crawl.homepage.html, limit=EXCERPT_LIMIT)

    kept = []
    for item in merge_emails(found):
        if item.domain not in scan.mx:
            scan.mx[item.domain] = lookup_mx(item.domain, resolver=resolver)
        result = scan.mx[item.domain]
        if result.ok or result.transient:
            kept.append(item)
            scan.mx_transient = scan.mx_transient or result.transient
        else:
            scan.dropped.append((item.email, f"no mail host: {result.reason}"))
    scan.primary, scan.secondary = pick_primary(kept, base_domain=base_domain)
    return scan
