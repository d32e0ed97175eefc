"""Synthetic outreach data for the delivery tests and the benchmark (example.test addresses only)."""

from datetime import timedelta

from django.utils import timezone

from outreach.models import Company, Contact, OutreachMessage, SenderMailbox


def make_mailbox(smtp, *, name: str = "other-1", route: str = "other", **fields) -> SenderMailbox:
    defaults = {
        "host": smtp.host,
        "port": smtp.port,
        "use_tls": False,
        "use_ssl": False,
        "from_address": f"sales@{name}.example.test",
        "daily_cap": 100_000,
    }
    return SenderMailbox.objects.create(name=name, route=route, **{**defaults, **fields})


def make_messages(
    count: int, *, mailbox: SenderMailbox | None, prefix: str = "m", status: str = "scheduled", scheduled_for=None
) -> list[OutreachMessage]:
    """`count` companies, each with a primary contact and one message, due a minute ago by default."""
    when = scheduled_for or timezone.now() - timedelta(minutes=1)
    companies = Company.objects.bulk_create(
        Company(name=f"Firm {prefix}{n}", canonical_domain=f"{prefix}{n}.example.test", status="contacts_ready")
        for n in range(count)
    )
    contacts = Contact.objects.bulk_create(
        Contact(company=c, email=f"info@{c.canonical_domain}", is_primary=True, score=1.0) for c in companies
    )
    return OutreachMessage.objects.bulk_create(
        OutreachMessage(
            company=c,
            contact=contact,
            subject=f"Предложение для {c.name}",
            body=f"Здравствуйте!\n\nПишем компании {c.name}.\n",
            status=status,
            scheduled_for=when,
            mailbox=mailbox,
        )
        for c, contact in zip(companies, contacts, strict=True)
    )
