"""Does a domain accept mail? An MX lookup port, its DNS adapter, a fake, and a cache.

    result = lookup_mx("example.ru")           # resolver from settings.OUTREACH_MX_RESOLVER
    result.ok, result.hosts, result.transient  # True, ("mx.example.ru",), False
    is_russian_mx(result.hosts)                # mail routing: is the mailbox hosted in Russia?

A resolver answers `resolve_mx(domain) -> [host, ...]` (most preferred first) or raises:
- NoMailDomain: a definitive no. NXDOMAIN, no MX and no A/AAAA (RFC 5321 falls back to
  the A record, so a domain with only an A record does accept mail: its hosts are
  [domain]), a null MX (RFC 7505: `MX 0 .`), a name that is not a valid DNS name.
- MxLookupFailed: no answer this time. Timeout, SERVFAIL, no nameserver configured.

lookup_mx caches definitive answers (yes or no) in Django's default cache for
MX_CACHE_TTL (7 days). A failed lookup is not cached at all: the result says
`transient=True` and the caller keeps the address and asks again on its next run.

The resolver is picked by the dotted path in settings.OUTREACH_MX_RESOLVER (default
DnsMxResolver) and kept as one instance per path, so tests can reach the instance the
code uses: `get_mx_resolver().set("nomail.example", NoMailDomain("nxdomain"))`.
"""

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import cache
from django.utils.module_loading import import_string

DEFAULT_RESOLVER = "outreach.mx.DnsMxResolver"
DEFAULT_TIMEOUT = 3.0  # seconds for the whole lookup, retries included
MX_CACHE_TTL = 7 * 24 * 3600
CACHE_PREFIX = "outreach:mx:"

# The rule for is_russian_mx: a host under one of these zones (.ru, .su, .рф, .рус, .москва)
# or under one of the Russian mail providers that serve MX from other zones.
RUSSIAN_ZONES = ("ru", "su", "xn--p1ai", "xn--p1acf", "xn--80adxhks")
RUSSIAN_PROVIDERS = ("yandex.net", "yandex.com", "beget.com")


class MxError(Exception):
    reason = "error"

    def __init__(self, reason: str = ""):
        super().__init__(reason or self.reason)
        self.reason = reason or self.reason


class NoMailDomain(MxError):
    """The domain definitely has nowhere to deliver mail."""

    reason = "no mail host"


class MxLookupFailed(MxError):
    """The lookup did not get an answer (timeout, SERVFAIL): ask again later."""

    reason = "lookup failed"


class MxResolver(Protocol):
    def resolve_mx(self, domain: str) -> list[str]: ...


@dataclass(frozen=True)
class MxResult:
    domain: str
    hosts: tuple[str, ...]
    ok: bool
    transient: bool
    reason: str = ""
    cached: bool = False

    @property
    def russian(self) -> bool:
        return is_russian_mx(self.hosts)

    def as_dict(self) -> dict:
        return {
            "domain": self.domain,
            "hosts": list(self.hosts),
            "ok": self.ok,
            "transient": self.transient,
            "reason": self.reason,
            "russian": self.russian,
        }


# --- adapters --------------------------------------------------------------------
class DnsMxResolver:
    """dnspython against the system's resolvers (or `nameservers`, e.g. a test server)."""

    def __init__(self, timeout: float | None = None, *, nameservers: list[str] | None = None, port: int = 53):
        self.timeout = timeout if timeout is not None else getattr(settings, "OUTREACH_MX_TIMEOUT", DEFAULT_TIMEOUT)
        self.nameservers = nameservers
        self.port = port
        self._resolver = None

    def _get_resolver(self):
        # Built on first use: a machine without /etc/resolv.conf should fail lookups
        # (transiently), not the import of every module that picks a resolver.
        import dns.resolver

        if self._resolver is None:
            try:
                resolver = dns.resolver.Resolver(configure=self.nameservers is None)
            except dns.resolver.NoResolverConfiguration as exc:
                raise MxLookupFailed("no DNS resolver configured") from exc
            if self.nameservers is not None:
                resolver.nameservers = list(self.nameservers)
                resolver.port = self.port
            resolver.lifetime = self.timeout
            resolver.timeout = self.timeout
            self._resolver = resolver
        return self._resolver

    def _query(self, name: str, rdtype: str):
        """The answer's records, [] for "no records of that type"; our errors otherwise."""
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            return list(self._get_resolver().resolve(name, rdtype, search=False))
        except dns.resolver.NoAnswer:
            return []
        except dns.resolver.NXDOMAIN as exc:
            raise NoMailDomain("nxdomain") from exc
        except (dns.resolver.YXDOMAIN, dns.name.NameTooLong, dns.name.LabelTooLong, dns.name.EmptyLabel) as exc:
            raise NoMailDomain("invalid domain") from exc
        except dns.exception.Timeout as exc:
            raise MxLookupFailed("timeout") from exc
        except dns.resolver.NoNameservers as exc:  # every server said SERVFAIL or REFUSED
            raise MxLookupFailed("servfail") from exc
        except dns.exception.DNSException as exc:
            raise MxLookupFailed(type(exc).__name__) from exc

    def resolve_mx(self, domain: str) -> list[str]:
        name = domain.rstrip(".") + "."
        records = self._query(name, "MX")
        if records:
            records.sort(key=lambda r: r.preference)
            hosts = [str(r.exchange).rstrip(".").lower() for r in records]
            if hosts == [""]:  # the null MX: "this domain accepts no mail"
                raise NoMailDomain("null MX")
            return [h for h in hosts if h]
        if self._query(name, "A") or self._query(name, "AAAA"):
            return [domain]  # RFC 5321 5.1: the implicit MX
        raise NoMailDomain("no MX or A")


class FakeMxResolver:
    """The fake: answers from `table`; an Exception (instance or class) there is raised.

    An empty list means "no MX and no A", as DnsMxResolver reports it (NoMailDomain).
    A domain not in the table gets `mx.<domain>` when `default="permissive"`, or
    NoMailDomain("nxdomain") when `default="nxdomain"`. `calls` counts lookups per domain.
    """

    def __init__(self, table: dict | None = None, *, default: str = "permissive"):
        if default not in ("permissive", "nxdomain"):
            raise ValueError(f"default must be 'permissive' or 'nxdomain', not {default!r}")
        self.table: dict[str, list[str] | BaseException | type] = dict(table or {})
        self.default = default
        self.calls: Counter[str] = Counter()

    def set(self, domain: str, answer) -> None:
        self.table[domain] = answer

    def reset(self) -> None:
        self.table.clear()
        self.calls.clear()

    def resolve_mx(self, domain: str) -> list[str]:
        self.calls[domain] += 1
        if domain not in self.table:
            if self.default == "nxdomain":
                raise NoMailDomain("nxdomain")
            return [f"mx.{domain}"]
        answer = self.table[domain]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, type) and issubclass(answer, BaseException):
            raise answer()
        if not answer:
            raise NoMailDomain("no MX or A")
        return [h.rstrip(".").lower() for h in answer]


_instances: dict[str, MxResolver] = {}


def get_mx_resolver() -> MxResolver:
    path = getattr(settings, "OUTREACH_MX_RESOLVER", "") or DEFAULT_RESOLVER
    if path not in _instances:
        _instances[path] = import_string(path)()
    return _instances[path]


def reset_mx_resolver() -> None:
    _instances.clear()


# --- the lookup --------------------------------------------------------------------
def normalize_domain(domain: str) -> str | None:
    """Lowercase ASCII (IDNA) form, or None when it cannot be a DNS name."""
    value = (domain or "").strip().lower().rstrip(".")
    if not value or " " in value or "@" in value:
        return None
    if not value.isascii():
        try:
            value = value.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    if len(value) > 253 or any(not label or len(label) > 63 for label in value.split(".")):
        return None
    return value


def _cache_key(domain: str) -> str:
    # Django warns about keys over 250 characters (memcached's limit); a long name gets hashed.
    key = CACHE_PREFIX + domain
    return key if len(key) <= 200 else CACHE_PREFIX + hashlib.sha1(domain.encode()).hexdigest()


def lookup_mx(domain: str, *, resolver: MxResolver | None = None) -> MxResult:
    name = normalize_domain(domain)
    if name is None:
        return MxResult(domain=domain, hosts=(), ok=False, transient=False, reason="invalid domain")
    key = _cache_key(name)
    hit = cache.get(key)
    if hit is not None:
        return MxResult(name, tuple(hit["hosts"]), hit["ok"], False, hit["reason"], cached=True)
    resolver = resolver or get_mx_resolver()
    try:
        hosts = tuple(resolver.resolve_mx(name))
    except NoMailDomain as exc:
        result = MxResult(name, (), ok=False, transient=False, reason=exc.reason)
    except MxLookupFailed as exc:
        return MxResult(name, (), ok=False, transient=True, reason=exc.reason)  # not cached: retry later
    else:
        result = MxResult(name, hosts, ok=bool(hosts), transient=False, reason="" if hosts else "no mail host")
    cache.set(key, {"hosts": list(result.hosts), "ok": result.ok, "reason": result.reason}, MX_CACHE_TTL)
    return result


def is_russian_mx(hosts) -> bool:
    """True when any MX host is in a Russian zone or at a Russian provider (see RUSSIAN_ZONES/_PROVIDERS).

    Any host, not only the most preferred: mail may be delivered to any of them.
    """
    for host in hosts or ():
        name = normalize_domain(host)
        if not name:
            continue
        if name.rsplit(".", 1)[-1] in RUSSIAN_ZONES:
            return True
        if any(name == p or name.endswith("." + p) for p in RUSSIAN_PROVIDERS):
            return True
    return False
