"""Blocking a domain: no more companies from it, and none of the ones we have is emailed."""

from django.db import transaction
from django.db.models import Q

from ..models import BlockedDomain, Company
from ..normalize import InvalidURL, canonical_domain


def normalize_blocked(value: str) -> str:
    """What an operator types (`WWW.Avito.ru`, `https://тест.рф/x`) as the canonical domain blocked."""
    try:
        return canonical_domain(value.strip().lstrip("*."))
    except InvalidURL:
        raise ValueError(f"{value!r} is not a domain") from None


@transaction.atomic
def block_domains(*, domains, reason: str = "blocked in admin") -> tuple[int, int]:
    """Block each domain (its subdomains too); companies on them are opted out. Returns (new blocks, companies)."""
    canonical = {normalize_blocked(d) for d in domains if d and d.strip()}
    created = sum(BlockedDomain.objects.get_or_create(domain=d, defaults={"reason": reason})[1] for d in canonical)
    on_them = Q()
    for domain in canonical:
        on_them |= Q(canonical_domain=domain) | Q(canonical_domain__endswith="." + domain)
    opted_out = Company.objects.filter(on_them, opt_out=False).update(opt_out=True) if canonical else 0
    return created, opted_out
