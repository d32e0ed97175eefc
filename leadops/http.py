"""The one way leadops talks HTTP to the outside world.

Callers get a plain `requests.Response` with the body already read, or one of
two errors they can act on: TransientHttpError (try again later) or
PermanentHttpError (fix the request or give up). On top of requests this adds
retries with backoff, a response-size cap and an SSRF guard that checks the
address each socket is actually connected to, redirects included.

Messages and logs name the method, host and status only: query strings carry
tokens (VK's access_token), so URLs are never put in them.
"""

import ipaddress
import logging
import re
import socket
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.retry import Retry
from urllib3.util.timeout import _DEFAULT_TIMEOUT

logger = logging.getLogger(__name__)


class _RedactQueries(logging.Filter):
    """urllib3 logs request paths, query included (its retry WARNING too); keep tokens out of logs."""

    def filter(self, record):
        if isinstance(record.args, tuple):
            record.args = tuple(re.sub(r"\?\S*", "?[redacted]", a) if isinstance(a, str) else a for a in record.args)
        return True


for _name in ("urllib3.connectionpool", "urllib3.util.retry", "urllib3.poolmanager"):
    logging.getLogger(_name).addFilter(_RedactQueries())

DEFAULT_TIMEOUT = (5, 20)  # connect, read seconds
DEFAULT_MAX_BYTES = 5 * 1024 * 1024
BACKOFF_FACTOR = 0.5  # urllib3 sleeps 0, 1, 2 s between the default three retries
MAX_RETRY_AFTER = 10  # seconds; longer waits belong to the caller's scheduler, not a blocked worker
MAX_REDIRECTS = 5
RETRY_STATUSES = (500, 502, 503, 504)
CHUNK = 64 * 1024

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a NAT64 gateway would carry us to the embedded IPv4


class HttpError(Exception):
    def __init__(self, message, *, status=None, response=None):
        super().__init__(message)
        self.status = status
        self.response = response


class TransientHttpError(HttpError):
    """Connection trouble, timeouts, 5xx after retries, 429: worth retrying later."""


class PermanentHttpError(HttpError):
    """4xx (except 429), a URL we will not fetch: retrying cannot help."""


class BlockedDestination(PermanentHttpError):
    """The SSRF guard refused the address."""


class ResponseTooLarge(PermanentHttpError):
    pass


# --- the guard ----------------------------------------------------------------
def _resolve(host, port):
    """getaddrinfo, in one place so tests can stand in for DNS."""
    return socket.getaddrinfo(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM)


def _allowlist():
    # Read per call, so an operator's change (or pytest-django's `settings`) applies at once.
    try:
        return [ipaddress.ip_network(entry, strict=False) for entry in settings.OUTBOUND_HTTP_ALLOWLIST]
    except ValueError as exc:
        raise ImproperlyConfigured(f"OUTBOUND_HTTP_ALLOWLIST: {exc}") from exc


def _effective(ip):
    """The address traffic really goes to: ::ffff:127.0.0.1 reaches 127.0.0.1, so judge it as that."""
    if ip.version == 6 and ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def _is_public(ip):
    # is_global alone misses multicast and, depending on the Python patch level, some reserved ranges.
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified or ip in _CGNAT)


def _checked_addresses(host, port):
    """Resolve host; return the getaddrinfo entries if every address may be reached."""
    infos = _resolve(host, port)
    allowed = _allowlist()
    for *_, sockaddr in infos:
        ip = _effective(ipaddress.ip_address(sockaddr[0].split("%", 1)[0]))  # without an IPv6 zone id
        if not _is_public(ip) and not any(ip in net for net in allowed):
            # Refuse the name if any address is bad: a picky-but-lucky connect is not a policy.
            raise BlockedDestination(f"{host} resolves to non-public address {ip}")
    return infos


class _GuardedConnectionMixin:
    """Resolve, check and connect in one step, so DNS cannot change its answer in between.

    Only the socket's peer address comes from our resolution; `self.host` stays the
    name, so the Host header, SNI and certificate checks are as usual.
    """

    def _new_conn(self):
        try:
            return self._connect_checked(_checked_addresses(self.host, self.port))
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc
        except TimeoutError as exc:
            msg = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, msg) from exc
        except OSError as exc:  # mapped as urllib3 does, so its connect retries apply
            raise NewConnectionError(self, f"Failed to establish a new connection: {exc}") from exc

    def _connect_checked(self, infos):
        error = OSError(f"no address for {self.host}")
        for family, socktype, proto, _, sockaddr in infos:
            sock = socket.socket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                if self.timeout is not _DEFAULT_TIMEOUT:
                    sock.settimeout(self.timeout)
                if self.source_address:
                    sock.bind(self.source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                sock.close()
                error = exc
        raise error


class _GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        # Through a proxy the guard would only ever see the proxy's address.
        raise BlockedDestination("proxies cannot be used with the SSRF guard on")


# --- retries, body, errors -------------------------------------------------------
class _Retry(Retry):
    def get_retry_after(self, response):
        after = super().get_retry_after(response)
        return None if after is None else min(after, MAX_RETRY_AFTER)


def _session(trusted, retries):
    # A fresh session per call: pooled keep-alive connections were checked under the
    # policy of the call that opened them (trusted or not, that moment's allow-list),
    # and reusing one across calls would carry that verdict over. At our request
    # rates the extra handshake costs nothing worth the doubt.
    session = requests.Session()
    session.max_redirects = MAX_REDIRECTS
    session.trust_env = trusted  # env proxies and .netrc are for our own services only
    retry = _Retry(
        total=retries,
        connect=retries,
        read=False,  # a read timeout may mean the server acted; let the caller decide
        status=retries,
        other=0,
        backoff_factor=BACKOFF_FACTOR,
        status_forcelist=RETRY_STATUSES,  # only idempotent methods (urllib3's default list)
        raise_on_status=False,
    )
    adapter = (HTTPAdapter if trusted else _GuardedAdapter)(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _read_capped(max_bytes):
    """Response hook: read each hop's body (redirects too) into .content, up to max_bytes."""

    def hook(response, *args, **kwargs):
        method, host = response.request.method, urlsplit(response.url).hostname
        logger.debug("%s %s -> %s", method, host, response.status_code)
        declared = response.headers.get("Content-Length", "")
        if method != "HEAD" and declared.isdigit() and int(declared) > max_bytes:
            response.close()
            raise ResponseTooLarge(f"{method} {host}: Content-Length {declared} exceeds {max_bytes} bytes")
        body = bytearray()
        for chunk in response.iter_content(CHUNK):
            body += chunk
            if len(body) > max_bytes:
                response.close()
                raise ResponseTooLarge(f"{method} {host}: body exceeds {max_bytes} bytes")
        response._content = bytes(body)  # requests' own slot for a read body

    return hook


def _chain(exc):
    """The exception and what it wraps: requests and urllib3 nest via args, .reason and __cause__."""
    seen = set()
    while isinstance(exc, BaseException) and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        wrapped = [getattr(exc, "reason", None), exc.args[0] if exc.args else None, exc.__cause__, exc.__context__]
        exc = next((e for e in wrapped if isinstance(e, BaseException)), None)


# requests raises its bad-input errors (InvalidURL, InvalidSchema, MissingSchema, ...) as ValueErrors.
_PERMANENT = (ValueError, requests.TooManyRedirects, requests.exceptions.ContentDecodingError)


def _translate(method, host, exc):
    chain = list(_chain(exc))
    blocked = next((e for e in chain if isinstance(e, BlockedDestination)), None)
    if blocked is not None:
        return blocked
    # Only class names: requests' own messages quote the full URL, query string and all.
    message = f"{method} {host}: {type(exc).__name__} ({type(chain[-1]).__name__})"
    return (PermanentHttpError if isinstance(exc, _PERMANENT) else TransientHttpError)(message)


def _check_url(method, url, trusted):
    try:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
    except ValueError:  # an unclosed "[", a port that is not a number
        raise PermanentHttpError(f"{method}: invalid URL") from None
    if scheme not in ("http", "https"):
        raise PermanentHttpError(f"{method}: scheme {scheme!r} is not http or https")
    if not host:
        raise PermanentHttpError(f"{method}: URL has no host")
    if not trusted:
        # Early and clear; the connection re-checks, which is what stops DNS rebinding.
        try:
            _checked_addresses(host, port or (443 if scheme == "https" else 80))
        except socket.gaierror as exc:
            raise TransientHttpError(f"{method} {host}: cannot resolve ({exc.strerror})") from None
        except UnicodeError:
            raise PermanentHttpError(f"{method}: invalid host name") from None
    return host


def request(method, url, *, trusted=False, timeout=DEFAULT_TIMEOUT, max_bytes=DEFAULT_MAX_BYTES, retries=3, **kwargs):
    """Send a request; return the Response with .content read, or raise an HttpError.

    trusted=True skips the SSRF guard: only for URLs from our own settings (VK_API_URL...).
    """
    method = method.upper()
    for managed in ("stream", "hooks"):
        if managed in kwargs:
            raise TypeError(f"leadops.http manages {managed!r} itself")
    host = _check_url(method, url, trusted)
    with _session(trusted, retries) as session:
        try:
            response = session.request(
                method, url, timeout=timeout, stream=True, hooks={"response": _read_capped(max_bytes)}, **kwargs
            )
        except HttpError:
            raise
        except requests.RequestException as exc:
            raise _translate(method, host, exc) from None  # `from None`: the chain quotes the URL
    status, final_host = response.status_code, urlsplit(response.url).hostname
    if status == 429 or status >= 500:
        raise TransientHttpError(f"{method} {final_host}: HTTP {status}", status=status, response=response)
    if status >= 400:
        raise PermanentHttpError(f"{method} {final_host}: HTTP {status}", status=status, response=response)
    return response


def get(url, **kwargs):
    return request("GET", url, **kwargs)


def post(url, **kwargs):
    return request("POST", url, **kwargs)
