"""Generation: one draft email per company that has a primary contact, written by outreach.writer.

Never for duplicate or opted-out companies, nor for an opted-out address or domain.
A draft is `ready` for the queue when the writer returned a checked email, or the
fallback template because no OpenAI key is configured. When OpenAI failed (errors or
unusable output after the writer's own retries) the draft waits, not ready, and the
next run asks again; after MAX_GENERATION_RUNS such runs the fallback is used (marked
as fallback in the metadata), so no company is left without an email forever.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ..models import Company, Contact, OfferBrief, OutreachMessage
from ..optouts import company_is_excluded, is_opted_out
from ..writer import BriefFacts, CompanyFacts, fallback_email, write_email

MAX_GENERATION_RUNS = 3
Status = OutreachMessage.Status


class NoOfferBrief(Exception):
    """There is no active OfferBrief: nothing can be written until someone describes the offer in admin."""


@dataclass
class GenerateResult:
    written: int = 0
    fallback: int = 0
    waiting: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def counts(self) -> dict:
        return {
            "written": self.written,
            "fallback": self.fallback,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "errors": len(self.errors),
        }


def active_brief() -> OfferBrief:
    brief = OfferBrief.objects.filter(active=True).order_by("-updated_at").first()
    if brief is None:
        raise NoOfferBrief("no active offer brief: add one in admin (Outreach → Offer briefs) first")
    return brief


def brief_facts(brief: OfferBrief) -> BriefFacts:
    return BriefFacts(offer=brief.offer, tone=brief.tone, signature=brief.signature, language=brief.language)


def company_facts(company: Company) -> CompanyFacts:
    return CompanyFacts(name=company.name, domain=company.canonical_domain, excerpt=company.homepage_excerpt)


def pending_companies():
    """Companies with contacts ready and no message yet, or whose last generation failed."""
    return Company.objects.filter(status=Company.Status.CONTACTS_READY, opt_out=False).exclude(
        messages__status__in=[s for s in Status.values if s != Status.DRAFT]
    )


def generate_messages(*, limit: int = 20, now: datetime | None = None, writer=write_email) -> GenerateResult:
    now = now or timezone.now()
    brief = active_brief()
    facts = brief_facts(brief)
    result = GenerateResult()
    for company in pending_companies().order_by("created_at", "pk")[: limit * 3]:
        if result.written + result.fallback + result.waiting >= limit:
            break
        message = OutreachMessage.objects.filter(company=company).first()
        if message is not None and message.metadata.get("ready"):
            continue  # written and waiting for the queue
        contact = Contact.objects.filter(company=company, is_primary=True).first()
        if contact is None or company_is_excluded(company) or is_opted_out(contact.email):
            result.skipped += 1
            continue
        runs = (message.metadata.get("generation_runs", 0) if message else 0) + 1
        draft = writer(company=company_facts(company), brief=facts)
        if draft.is_fallback and draft.fallback_reason != "no_api_key":
            if runs < MAX_GENERATION_RUNS:
                _save(company, contact, message, draft, ready=False, runs=runs, brief=brief)
                result.waiting += 1
                continue
            # Out of patience with OpenAI: the marked fallback goes out rather than nothing.
            draft = fallback_email(
                company_facts(company),
                facts,
                request=draft.request,
                error=draft.error,
                reason=draft.fallback_reason,
                attempts=draft.attempts,
            )
        saved = _save(company, contact, message, draft, ready=draft.ok, runs=runs, brief=brief)
        if saved is None:
            result.errors.append(f"{company}: another run wrote its message first")
        elif not draft.ok:
            result.errors.append(f"{company}: {'; '.join(draft.problems)}")
        elif draft.is_fallback:
            result.fallback += 1
        else:
            result.written += 1
    return result


def _save(company, contact, message, draft, *, ready: bool, runs: int, brief) -> OutreachMessage | None:
    metadata = {
        **draft.metadata(),
        "ready": ready,
        "generation_runs": runs,
        "brief": brief.name,
        "generated_at": timezone.now().isoformat(),
    }
    values = {
        "contact": contact,
        "subject": draft.subject[:300],
        "body": draft.body,
        "metadata": metadata,
        # A fallback with problems of its own (a brief with placeholders) needs a human.
        "status": Status.DRAFT if ready or not draft.is_fallback or draft.ok else Status.NEEDS_REVIEW,
        "last_error": "" if draft.ok else "; ".join(draft.problems or [draft.error])[:2000],
    }
    try:
        with transaction.atomic():
            if message is None:
                return OutreachMessage.objects.create(company=company, **values)
            updated = OutreachMessage.objects.filter(pk=message.pk, status=Status.DRAFT).update(**values)
            return message if updated else None
    except IntegrityError:  # one message per company: a parallel run created it
        return None
