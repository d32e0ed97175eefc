"""Generation stored: one draft per company with a contact, ready for the queue only when it may go out."""

import functools

import pytest

from outreach import steps
from outreach.models import Company, Contact, OfferBrief, OptOut, OutreachMessage
from outreach.services.generate import MAX_GENERATION_RUNS, generate_messages
from outreach.writer import write_email
from tests.emulators.openai import OpenAIEmulator

pytestmark = pytest.mark.django_db

no_sleep = functools.partial(write_email, sleep=lambda seconds: None)


@pytest.fixture
def openai_emulator(settings):
    with OpenAIEmulator() as emulator:
        emulator.configure(settings)
        yield emulator


@pytest.fixture
def brief():
    return OfferBrief.objects.create(
        name="упаковка",
        offer="Мы печатаем картонную упаковку с логотипом небольшими тиражами, от 100 штук, за 5 рабочих дней.",
        tone="дружелюбно и коротко",
        signature="Анна Синтетическая, менеджер, ООО «Пример»",
    )


def ready_company(domain="cafe.example", email="info@cafe.example", **fields) -> Company:
    company = Company.objects.create(name="Кафе Пример", canonical_domain=domain, status="contacts_ready", **fields)
    Contact.objects.create(company=company, email=email, is_primary=True, score=1.0)
    return company


def test_it_writes_one_ready_draft_per_company(openai_emulator, brief):
    company = ready_company()

    result = generate_messages(writer=no_sleep)
    again = generate_messages(writer=no_sleep)

    assert result.written == 1 and again.counts()["written"] == 0
    message = OutreachMessage.objects.get()
    assert (message.company, message.contact.email, message.status) == (company, "info@cafe.example", "draft")
    assert message.metadata["ready"] is True and message.metadata["fallback"] is False
    assert brief.signature in message.body
    assert "Кафе Пример" in openai_emulator.requests[0].body["messages"][-1]["content"]
    assert len(openai_emulator.requests) == 1


def test_when_openai_keeps_failing_it_waits_then_sends_the_marked_fallback(openai_emulator, brief):
    ready_company()
    openai_emulator.fail_next(500, times=100)

    for run in range(1, MAX_GENERATION_RUNS):
        assert generate_messages(writer=no_sleep).waiting == 1
        message = OutreachMessage.objects.get()
        assert message.metadata["ready"] is False and message.metadata["generation_runs"] == run

    assert generate_messages(writer=no_sleep).fallback == 1
    message = OutreachMessage.objects.get()
    assert message.metadata["ready"] is True and message.metadata["fallback"] is True
    assert message.metadata["fallback_reason"] == "unavailable"


def test_a_failed_generation_is_retried_on_the_next_run(openai_emulator, brief):
    ready_company()
    openai_emulator.fail_next(500, times=4)  # every attempt of the first run

    generate_messages(writer=no_sleep)
    generate_messages(writer=no_sleep)

    message = OutreachMessage.objects.get()
    assert message.metadata["ready"] is True and message.metadata["fallback"] is False


def test_without_a_key_the_fallback_is_used_and_marked(settings, brief):
    settings.OPENAI_API_KEY = ""
    ready_company()

    assert generate_messages(writer=no_sleep).fallback == 1
    assert OutreachMessage.objects.get().metadata["fallback_reason"] == "no_api_key"


@pytest.mark.parametrize(
    "exclude",
    [
        lambda c: Company.objects.filter(pk=c.pk).update(opt_out=True),
        lambda c: Company.objects.filter(pk=c.pk).update(status="duplicate"),
        lambda c: OptOut.objects.create(email="info@cafe.example"),
        lambda c: OptOut.objects.create(domain="cafe.example"),
    ],
    ids=["company opted out", "duplicate", "address opted out", "domain opted out"],
)
def test_nothing_is_written_for_excluded_companies_or_addresses(openai_emulator, brief, exclude):
    company = ready_company()
    exclude(company)

    generate_messages(writer=no_sleep)

    assert not OutreachMessage.objects.exists() and openai_emulator.requests == []


def test_without_an_offer_brief_the_step_says_what_to_do():
    ready_company()
    with pytest.raises(steps.StepError, match="no active offer brief"):
        steps.run_step("generate")
