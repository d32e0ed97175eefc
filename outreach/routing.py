"""Which mailbox route a recipient gets: "ru" when its domain's mail is Russian-hosted, else "other".

Russian providers treat mail from a Russian sender better (and the other way round),
so the queue picks a mailbox by the recipient's MX hosts.
"""

RU = "ru"
OTHER = "other"


class RouteUnavailable(Exception):
    """The MX lookup failed for now (timeout, SERVFAIL): ask again on a later run, do not guess."""


def route_for_email(email: str) -> str:
    # Imported here so the queue (and its tests, which inject their own route_for) never need DNS.
    from outreach.mx import is_russian_mx, lookup_mx

    domain = email.strip().lower().rpartition("@")[2]
    result = lookup_mx(domain)
    if not result.ok:
        if result.transient:
            raise RouteUnavailable(f"MX lookup for {domain} failed for now")
        return OTHER  # no MX at all: nothing says Russian-hosted
    return RU if is_russian_mx(result.hosts) else OTHER
