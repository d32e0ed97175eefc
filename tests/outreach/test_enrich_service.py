"""Enrichment stored: companies claimed, their sites read, contacts written, retries spaced out."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from outreach.models import Company, Contact
from outreach.services.enrich import MAX_ATTEMPTS, claim_companies, enrich_companies
from tests.emulators.sites import SitesEmulator

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 11, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def sites():
    with SitesEmulator() as emulator:
        yield emulator


def company_on(sites, name: str, **fields) -> Company:
    return Company.objects.create(name=name, canonical_domain=f"{name}.example", website_url=sites.url(name), **fields)


def test_it_stores_the_best_address_as_primary_and_the_rest_as_secondary(sites):
    company = company_on(sites, "mailto-and-text")

    result = enrich_companies(now=NOW)

    assert result.counts() == {"claimed": 1, "ready": 1, "not_found": 0, "retry": 0, "errors": 0}
    company.refresh_from_db()
    assert company.status == "contacts_ready"
    contacts = {c.email: c.is_primary for c in company.contacts.all()}
    assert contacts == {"sales@example.com": True, "info@example.com": False}


def test_it_finds_an_address_only_on_the_contact_page_and_keeps_the_homepage_excerpt(sites):
    company = company_on(sites, "contact-only")

    enrich_companies(now=NOW)

    company.refresh_from_db()
    assert company.contacts.get().email == "office@alfa-pack.example"
    assert "Производство упаковки" in company.homepage_excerpt


def test_a_site_without_addresses_is_not_found_and_tried_again_days_later(sites):
    company = company_on(sites, "empty")

    enrich_companies(now=NOW)
    company.refresh_from_db()
    assert (company.status, company.enrich_attempts) == ("contacts_not_found", 1)
    assert company.enrich_after == NOW + timedelta(days=3)
    assert not claim_companies(now=NOW + timedelta(days=1), limit=5)  # not before its time

    for attempt in range(2, MAX_ATTEMPTS + 1):
        enrich_companies(now=NOW + timedelta(days=3 * attempt))
    company.refresh_from_db()
    assert company.enrich_attempts == MAX_ATTEMPTS
    assert not claim_companies(now=NOW + timedelta(days=365), limit=5)  # given up after three tries


def test_a_claimed_company_is_not_claimed_twice_until_its_lease_runs_out(sites):
    company_on(sites, "jurint")

    assert len(claim_companies(now=NOW, limit=5)) == 1
    assert claim_companies(now=NOW + timedelta(minutes=5), limit=5) == []
    # The worker died: after the lease the company is claimed again, not lost.
    assert len(claim_companies(now=NOW + timedelta(hours=1), limit=5)) == 1


def test_an_address_another_company_has_stays_theirs(sites):
    first = company_on(sites, "mixed-case")
    enrich_companies(now=NOW)
    second = Company.objects.create(name="copy", canonical_domain="copy.example", website_url=sites.url("mixed-case"))

    enrich_companies(now=NOW)

    assert first.contacts.get(is_primary=True).email == "hello@site.com"
    second.refresh_from_db()
    assert second.status == "contacts_not_found" and not second.contacts.exists()
    assert Contact.objects.filter(email__iexact="hello@site.com").count() == 1


def test_opted_out_and_duplicate_companies_are_not_crawled(sites):
    company_on(sites, "jurint", opt_out=True)

    assert enrich_companies(now=NOW).claimed == 0
    assert sites.hits("jurint") == []


def test_the_dry_run_prints_what_it_would_find_and_stores_nothing(sites):
    out = StringIO()

    call_command("outreach", "enrich", "--url", sites.url("obfuscated"), "--dry-run", stdout=out)

    found = json.loads(out.getvalue())
    emails = {found["primary"]["email"], *(e["email"] for e in found["secondary"])}
    assert {"info@obfuscated.example", "buh@obfuscated.example", "sales@obfuscated.example"} <= emails
    assert not Company.objects.exists() and not Contact.objects.exists()
