"""Who must never be emailed: opted-out addresses and domains, duplicate or opted-out companies."""

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from outreach.models import Company, OptOut


def split_address(email: str) -> tuple[str, str]:
    email = email.strip().lower()
    return email, email.rpartition("@")[2]


def is_opted_out(email: str) -> bool:
    """True when the address, or the domain it is on, has opted out."""
    email, domain = split_address(email)
    return OptOut.objects.filter(Q(email=email) | Q(domain=domain, email="")).exists()


def company_is_excluded(company: Company) -> bool:
    return company.opt_out or company.status == Company.Status.DUPLICATE


def message_exclusion(message) -> str | None:
    """Why a message may never go to its contact, by the rules that need no query (None: it may)."""
    company, contact = message.company, message.contact
    if company_is_excluded(company):
        return "company is a duplicate" if company.status == Company.Status.DUPLICATE else "company opted out"
    if contact.company_id != company.pk:
        return "contact belongs to another company"
    if not contact.is_primary:
        return "contact is not the company's primary"
    return None


@transaction.atomic
def record_opt_out(*, email: str = "", domain: str = "", reason: str = "", source: str = "admin") -> OptOut:
    """Idempotent: opting out twice keeps the first record (and its date)."""
    email = email.strip().lower()
    domain = domain.strip().lower().lstrip("@")
    if bool(email) == bool(domain):
        raise ValueError("give an email address or a domain, not both")
    lookup = {"email": email} if email else {"domain": domain}
    existing = OptOut.objects.filter(**lookup).first()
    if existing:
        return existing
    try:
        with transaction.atomic():
            return OptOut.objects.create(**lookup, reason=reason, source=source, at=timezone.now())
    except IntegrityError:  # someone recorded it between our read and write
        return OptOut.objects.get(**lookup)
