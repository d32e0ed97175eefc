"""SERP ingest: parsing speed (in process) and ingest speed (PostgreSQL).

1,000 synthetic Yandex answers of 100 results each (100,000 result documents,
with <hlword> titles and two passages each) on domains drawn from a pool of
50,000, so later answers mostly refresh companies that exist. A "doc" below is
one result document. Parsing alone (base64 decode + hardened XML parse) must
reach 5,000 docs/s; ingest (normalise, block-list, upsert companies, write
results, one transaction per answer) prints its rate, then one full dedupe run.
"""

import time

import pytest
from django.utils import timezone

from outreach.models import Company, SerpOperation, SerpQuery, SerpResult
from outreach.serp import decode_raw_data, parse_serp
from outreach.services.companies import dedupe
from outreach.services.ingest import ingest_operation
from tests.outreach.serp_samples import b64, synthetic_serp

ANSWERS = 1000
PER_ANSWER = 100
PARSE_TARGET = 5000  # docs/s


def answers() -> list[str]:
    return [b64(synthetic_serp(PER_ANSWER, seed=n)) for n in range(ANSWERS)]


def bench_parse_serp():
    raw = answers()
    began = time.perf_counter()
    docs = sum(len(parse_serp(decode_raw_data(r))) for r in raw)
    took = time.perf_counter() - began
    rate = docs / took
    print(
        f"\n[bench] serp parse: {docs} docs in {ANSWERS} answers, {took:.2f} s: {rate:,.0f} docs/s "
        f"(target >= {PARSE_TARGET:,}); {sum(map(len, raw)) / ANSWERS / 1024:.0f} KiB base64 an answer"
    )
    assert docs == ANSWERS * PER_ANSWER
    assert rate >= PARSE_TARGET


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.timeout(900)
def bench_ingest_serp():
    raw = answers()
    now = timezone.now()
    operations = []
    for n in range(ANSWERS):
        query = SerpQuery.objects.create(
            text=f"стоматология {n}", lr=213, hash=f"{n:040d}", status="in_progress", scheduled_for=now
        )
        operations.append(SerpOperation.objects.create(query=query, operation_id=f"bench-{n}"))

    began = time.perf_counter()
    results = [ingest_operation(operation=op, raw_data=r) for op, r in zip(operations, raw, strict=True)]
    took = time.perf_counter() - began
    docs = sum(r.docs for r in results)
    created = sum(r.companies_created for r in results)
    print(
        f"\n[bench] serp ingest: {docs} docs, {ANSWERS} operations, {took:.1f} s: {docs / took:,.0f} docs/s; "
        f"{SerpResult.objects.count()} results, {created} companies created, "
        f"{sum(r.companies_updated for r in results)} refreshed"
    )
    assert all(r.status == "done" for r in results)
    assert Company.objects.count() == created
    assert SerpResult.objects.count() == sum(r.results for r in results)

    began = time.perf_counter()
    counts = dedupe()
    print(f"[bench] dedupe (first, full run): {counts['examined']} companies in {time.perf_counter() - began:.1f} s")
    assert counts["duplicates"] == 0  # one company per canonical domain already
