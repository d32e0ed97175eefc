"""The outreach admin (part I): every page opens, and the actions do what they say."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from outreach.models import BlockedDomain, Company, NicheRow, SerpOperation, SerpQuery, SerpResult

pytestmark = pytest.mark.django_db

WHEN = datetime(2025, 3, 10, 21, 0, tzinfo=UTC)


@pytest.fixture
def world():
    row = NicheRow.objects.create(sheet_row=2, niche="кафе", city="Москва", status="failed")
    query = SerpQuery.objects.create(
        text="кафе Москва",
        lr=213,
        hash="h1",
        status="failed",
        attempts=3,
        last_error="boom",
        scheduled_for=WHEN,
        niche_row=row,
    )
    operation = SerpOperation.objects.create(query=query, operation_id="op1", status="failed")
    company = Company.objects.create(name="Кафе", canonical_domain="msk.cafe.example.ru")
    Company.objects.create(name="Другое", canonical_domain="other.example.ru")
    SerpResult.objects.create(
        operation=operation,
        url="https://msk.cafe.example.ru/menu",
        domain=company.canonical_domain,
        position=1,
        company=company,
    )
    return query


@pytest.mark.parametrize(
    "model", ["nicherow", "serpquery", "serpoperation", "serpresult", "company", "searchbatchlog", "blockeddomain"]
)
def test_every_outreach_page_opens(admin_client, world, model):
    assert admin_client.get(reverse(f"admin:outreach_{model}_changelist")).status_code == 200


def test_it_runs_a_failed_query_again(admin_client, world):
    admin_client.post(
        reverse("admin:outreach_serpquery_changelist"), {"action": "run_again", "_selected_action": [world.pk]}
    )
    world.refresh_from_db()
    assert (world.status, world.attempts, world.last_error) == ("pending", 0, "")


def test_blocking_a_domain_opts_out_its_companies(admin_client, world):
    company = Company.objects.get(canonical_domain="msk.cafe.example.ru")
    admin_client.post(
        reverse("admin:outreach_company_changelist"), {"action": "block_domains", "_selected_action": [company.pk]}
    )
    assert BlockedDomain.objects.filter(domain="msk.cafe.example.ru").exists()
    assert Company.objects.get(pk=company.pk).opt_out
    assert not Company.objects.get(canonical_domain="other.example.ru").opt_out


def test_a_domain_typed_in_admin_is_stored_canonical_and_covers_subdomains(admin_client, world):
    response = admin_client.post(
        reverse("admin:outreach_blockeddomain_add"), {"domain": "https://WWW.Cafe.Example.ru/", "reason": "агрегатор"}
    )
    assert response.status_code == 302
    assert BlockedDomain.objects.filter(domain="cafe.example.ru").exists()
    assert Company.objects.get(canonical_domain="msk.cafe.example.ru").opt_out


def test_a_domain_that_is_no_domain_is_refused(admin_client):
    response = admin_client.post(reverse("admin:outreach_blockeddomain_add"), {"domain": "http://", "reason": ""})
    assert response.status_code == 200 and "is not a domain" in response.content.decode()
    assert not BlockedDomain.objects.filter(domain="").exists()
