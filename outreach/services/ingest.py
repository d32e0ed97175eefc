"""A finished Yandex operation's rawData into SerpResult rows and companies.

One transaction per operation: an answer that cannot be read fails that operation
(and its query) with the reason and writes nothing else; a readable one writes
all its results and companies, marks the operation done and its query completed,
or (on a database error) nothing at all. Results on blocked domains (BlockedDomain,
subdomains included) and URLs that are no http(s) URL are skipped. Ingesting the
same operation again adds nothing: results are unique per (operation, url).
"""

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from django.db import transaction
from django.utils import timezone

from ..models import BlockedDomain, SerpOperation, SerpQuery, SerpResult
from ..normalize import InvalidURL, canonical_domain, canonical_set, is_blocked, normalize_url
from ..serp import SerpPage, SerpParseError, decode_raw_data, parse_serp_page
from .companies import Candidate, upsert_companies

NO_RAW_DATA = "operation has no rawData"
IMPORT_LR = 225  # Russia: the region of an imported file whose query is not known yet
URL_MAX = SerpResult._meta.get_field("url").max_length
DOMAIN_MAX = SerpResult._meta.get_field("domain").max_length
LANG_MAX = SerpResult._meta.get_field("language").max_length
QUERY_MAX = SerpQuery._meta.get_field("text").max_length


@dataclass
class IngestResult:
    operation_id: str
    status: str  # the operation's: "done" or "failed"
    error: str = ""
    docs: int = 0  # documents in the answer
    results: int = 0  # SerpResult rows written by this call (0 when ingested before)
    blocked: int = 0
    invalid: int = 0  # no http(s) URL
    companies_created: int = 0
    companies_updated: int = 0

    def counts(self) -> dict:
        return asdict(self)

    def __str__(self):
        return f"{self.status}: {self.error}" if self.error else self.status


def ingest_operation(*, operation: SerpOperation, raw_data: str | None) -> IngestResult:
    """Parse the base64 `raw_data` of a done operation and store what it found (see the module doc)."""
    if raw_data is None or (isinstance(raw_data, str | bytes) and not raw_data.strip()):
        return fail_operation(operation, NO_RAW_DATA)
    try:
        page = parse_serp_page(decode_raw_data(raw_data))
    except SerpParseError as exc:
        return fail_operation(operation, str(exc))
    return ingest_page(operation=operation, page=page)


def fail_operation(operation: SerpOperation, message: str) -> IngestResult:
    """The operation failed with `message`; so did its query, unless another operation completed it."""
    now = timezone.now()
    with transaction.atomic():
        SerpOperation.objects.filter(pk=operation.pk).update(
            status=SerpOperation.Status.FAILED, error_payload={"message": message}, completed_at=now
        )
        SerpQuery.objects.filter(pk=operation.query_id).exclude(status=SerpQuery.Status.COMPLETED).update(
            status=SerpQuery.Status.FAILED, last_error=message[:2000]
        )
    operation.status, operation.error_payload, operation.completed_at = (
        SerpOperation.Status.FAILED,
        {"message": message},
        now,
    )
    return IngestResult(operation_id=operation.operation_id, status=str(operation.status), error=message)


def ingest_page(*, operation: SerpOperation, page: SerpPage) -> IngestResult:
    """Store the documents of a parsed answer for `operation` in one transaction."""
    outcome = IngestResult(
        operation_id=operation.operation_id, status=str(SerpOperation.Status.DONE), docs=len(page.docs)
    )
    blocked_domains = canonical_set(BlockedDomain.objects.values_list("domain", flat=True))
    kept: dict[str, tuple] = {}  # normalised url -> (doc, domain), best rank first
    for doc in page.docs:
        try:
            url = normalize_url(doc.url)
            domain = canonical_domain(url)
        except InvalidURL:
            outcome.invalid += 1
            continue
        if len(url) > URL_MAX or len(domain) > DOMAIN_MAX:
            outcome.invalid += 1
        elif is_blocked(domain, blocked_domains):
            outcome.blocked += 1
        else:
            kept.setdefault(url, (doc, domain))

    now = timezone.now()
    with transaction.atomic():
        op = SerpOperation.objects.select_for_update().select_related("query").get(pk=operation.pk)
        candidates = [
            Candidate(domain=domain, name=doc.title, url=url, position=doc.position, language=doc.language)
            for url, (doc, domain) in kept.items()
        ]
        upserted = upsert_companies(candidates, query_text=op.query.text, now=now)
        outcome.companies_created, outcome.companies_updated = upserted.created, upserted.updated
        rows = [
            SerpResult(
                operation=op,
                url=url,
                domain=domain,
                title=doc.title,
                snippet=doc.snippet,
                position=doc.position,
                language=doc.language[:LANG_MAX],
                company=upserted.companies.get(domain),
            )
            for url, (doc, domain) in kept.items()
        ]
        before = SerpResult.objects.filter(operation=op).count()
        SerpResult.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        outcome.results = SerpResult.objects.filter(operation=op).count() - before
        SerpOperation.objects.filter(pk=op.pk).update(status=SerpOperation.Status.DONE, completed_at=now)
        SerpQuery.objects.filter(pk=op.query_id).update(status=SerpQuery.Status.COMPLETED, last_error="")
    operation.status, operation.completed_at = SerpOperation.Status.DONE, now
    return outcome


def _file_xml(data: bytes) -> bytes:
    """A saved answer as XML, base64 rawData, or the operation's JSON (`rawData` or `response.rawData`)."""
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return data
    if head.startswith(b"{"):
        try:
            payload = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise SerpParseError(f"the file is neither XML nor base64 nor an operation's JSON: {exc}") from None
        raw = payload.get("rawData") or (payload.get("response") or {}).get("rawData")
        if not raw:
            raise SerpParseError(NO_RAW_DATA)
        return decode_raw_data(raw)
    return decode_raw_data(head)


def _import_query(text: str) -> SerpQuery:
    known = SerpQuery.objects.filter(text=text).order_by("created_at", "pk").first()
    if known:
        return known
    digest = hashlib.sha1(f"{text}|{IMPORT_LR}".encode()).hexdigest()
    # Not pending: the scheduler must not send an imported query to Yandex.
    query, _ = SerpQuery.objects.get_or_create(
        hash=digest,
        defaults={
            "text": text,
            "lr": IMPORT_LR,
            "status": SerpQuery.Status.IN_PROGRESS,
            "scheduled_for": timezone.now(),
            "batch_tag": "import",
        },
    )
    return query


def import_serp_file(*, path, query_text: str | None = None) -> IngestResult:
    """`manage.py outreach import-serp FILE [--query TEXT]`: ingest a saved Yandex answer.

    The file becomes a SerpOperation `import-<sha1 of the file>` (so importing it
    again adds nothing) under the SerpQuery with that text: --query, else the
    answer's own <request><query>, else the file name; a new query gets lr 225.
    A file that cannot be read raises SerpParseError and writes nothing;
    FileNotFoundError propagates.
    """
    path = Path(path)
    data = path.read_bytes()
    page = parse_serp_page(_file_xml(data))
    text = (query_text or "").strip() or page.query or f"import {path.name}"
    operation_id = f"import-{hashlib.sha1(data).hexdigest()}"
    with transaction.atomic():
        operation = SerpOperation.objects.filter(operation_id=operation_id).first()
        if operation is None:
            operation, _ = SerpOperation.objects.get_or_create(
                operation_id=operation_id,
                defaults={"query": _import_query(text[:QUERY_MAX]), "next_poll_at": None},
            )
        return ingest_page(operation=operation, page=page)
