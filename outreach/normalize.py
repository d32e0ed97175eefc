"""URL and domain normalisation for SERP results and companies.

    normalize_url("HTTP://WWW.test.ru/path//")        -> "http://test.ru/path"
    normalize_url("example.com")                      -> "https://example.com/"
    normalize_url("https://a.ru:8080/x/?q=1#frag")    -> "https://a.ru:8080/x?q=1"
    canonical_domain("https://www.Тест.рф/page")      -> "xn--e1aybc.xn--p1ai"
    is_blocked("support.avito.ru", {"avito.ru"})      -> True

Rules: https is added when there is no scheme; the host is lowercased, loses a
leading `www.` and a trailing dot, and is IDNA-encoded; the default port of the
scheme (80 for http, 443 for https) is dropped, any other port kept; runs of `/`
in the path collapse to one; the root path is `/`, any other path loses its
trailing `/`; the query is kept as is, the fragment dropped, and so are
credentials (`user:pass@`).
"""

import re
from urllib.parse import urlsplit

try:  # IDNA 2008 with UTS #46 mapping (installed with requests); the stdlib codec is IDNA 2003.
    import idna as _idna
except ImportError:  # pragma: no cover
    _idna = None

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*://")
_OPAQUE_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:(?!\d)")  # mailto:, javascript:, tel: (not host:port)
_SLASHES = re.compile(r"/{2,}")
DEFAULT_PORTS = {"http": 80, "https": 443}
SCHEMES = frozenset(DEFAULT_PORTS)


class InvalidURL(ValueError):
    pass


def _idna_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        if _idna is not None:
            return _idna.encode(label, uts46=True).decode("ascii")
    except _idna.IDNAError:
        pass  # IDNA 2008 refuses some labels (emoji, symbols) that browsers and Yandex still resolve
    try:
        return label.encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise InvalidURL(f"not a valid internationalised domain label: {label!r}") from exc


def _clean_host(host: str) -> str:
    host = host.strip().lower().rstrip(".")
    if not host:
        raise InvalidURL("empty host")
    if not host.isascii():
        host = ".".join(_idna_label(label) for label in host.split("."))
    if any(not label for label in host.split(".")):
        raise InvalidURL(f"empty label in host {host!r}")
    if any(c in host for c in " /\\?#@:%<>\"'`"):
        raise InvalidURL(f"not a host name: {host!r}")
    if host.startswith("www.") and host.count(".") >= 2:
        host = host[4:]
    return host


def _with_scheme(url: str) -> str:
    if url.startswith("//"):
        return "https:" + url
    if not _SCHEME.match(url):
        if _OPAQUE_SCHEME.match(url):
            raise InvalidURL(f"{url!r}: not an http(s) URL")
        return "https://" + url
    return url


def normalize_url(url: str) -> str:
    """The canonical form of an http(s) URL; raises InvalidURL for anything else."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidURL("empty URL")
    try:
        parts = urlsplit(_with_scheme(url.strip()))
        port = parts.port
    except InvalidURL:
        raise
    except ValueError as exc:
        raise InvalidURL(f"{url!r}: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise InvalidURL(f"{url!r}: not an http(s) URL")
    hostname = parts.hostname or ""
    host = f"[{hostname}]" if ":" in hostname else _clean_host(hostname)  # urlsplit strips IPv6 brackets
    netloc = host if port is None or port == DEFAULT_PORTS[scheme] else f"{host}:{port}"
    path = _SLASHES.sub("/", parts.path) or "/"
    if len(path) > 1:
        path = path.rstrip("/") or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{path}{query}"


def canonical_domain(url_or_host: str) -> str:
    """The host of a URL, or a bare host (`www.Example.com:8080/x` too): lowercase, no `www.`, IDNA-encoded."""
    if not isinstance(url_or_host, str) or not url_or_host.strip():
        raise InvalidURL("empty domain")
    value = url_or_host.strip()
    if not _SCHEME.match(value) and not value.startswith("//"):
        value = "//" + value
    try:
        host = urlsplit(value).hostname or ""
    except ValueError as exc:
        raise InvalidURL(f"{url_or_host!r}: {exc}") from exc
    return _clean_host(host)


# The name in the issue. This is the host (minus `www.`), not eTLD+1: without a public
# suffix list, `clinic.spb.ru` and `spb.ru` cannot be told apart safely.
registrable_domain = canonical_domain


def is_blocked(domain: str, blocked: set[str] | frozenset[str]) -> bool:
    """True when `domain` or any parent of it is in `blocked` (canonical domains: see `canonical_set`)."""
    if not domain or not blocked:
        return False
    if not domain.isascii():
        try:
            domain = canonical_domain(domain)
        except InvalidURL:
            return False
    labels = domain.lower().rstrip(".").split(".")
    return any(".".join(labels[i:]) in blocked for i in range(len(labels)))


def canonical_set(domains) -> frozenset[str]:
    """Canonical forms of `domains` (e.g. BlockedDomain rows); entries that are no domain are dropped."""
    out = set()
    for domain in domains:
        try:
            out.add(canonical_domain(domain))
        except InvalidURL:
            continue
    return frozenset(out)
