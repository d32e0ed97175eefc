"""Fetch the few pages of a company site where contacts live, politely.

    result = crawl_site("https://example.ru")
    result.pages              # [Page(url, status, html), ...], the homepage first
    result.errors             # ["https://example.ru/contact: GET example.ru: HTTP 500", ...]
    result.blocked_by_robots  # URLs robots.txt told us to leave alone
    result.transient          # the site could not be read this time: try again later

Which pages: the homepage, then links on it that look like contact, requisites or
about pages (by their path or text, same site only), then the fixed paths in
FIXED_PATHS; at most `max_pages` requests for pages. A guessed path that is not there
(404/410) goes to `skipped`, as do non-HTML answers; other failures go to `errors`.
Nothing here raises for a bad site.

Politeness: every request goes through leadops.http (SSRF guard, size cap, timeouts)
with an honest User-Agent naming a contact; robots.txt is fetched once per origin and
obeyed (RFC 9309: a 4xx robots.txt allows everything, an unreachable one allows
nothing), redirects are followed here, hop by hop, so each hop is checked against
robots.txt and the same-site rule before it is requested. Crawl-delay is not honoured:
the pages of one site are fetched one at a time, a dozen at most.

`fetch(url, *, max_bytes) -> response` can be swapped (tests); like `http_fetch` it must
not follow redirects, and must raise leadops.http errors.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

from django.conf import settings

from leadops import http

from .normalize import InvalidURL, canonical_domain, normalize_url

FIXED_PATHS = (
    "/",
    "/contact",
    "/contacts",
    "/contact-us",
    "/about",
    "/about-us",
    "/kontakty",
    "/rekvizity",
    "/company",
)
ROBOT_NAME = "leadops-enrichment"
PAGE_TIMEOUT = (5, 10)  # connect, read seconds
PAGE_MAX_BYTES = 2 * 1024 * 1024
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
MAX_REDIRECTS = 5
MAX_DISCOVERED = 6
REDIRECTS = (301, 302, 303, 307, 308)
HTML_TYPES = ("text/html", "application/xhtml+xml")

# Link words, best first: a contacts page beats requisites, which beat "about us".
LINK_WORDS = (
    ("contact", "kontakt", "контакт", "svyaz", "связ", "feedback"),
    ("rekvizit", "реквизит", "requisites"),
    ("about", "o-nas", "o_nas", "о нас", "o-kompanii", "o_kompanii", "о компании", "company", "kompaniya"),
)
_NOT_PAGES = re.compile(r"\.(?:pdf|jpe?g|png|gif|webp|svg|zip|rar|docx?|xlsx?|mp4|mp3)$", re.IGNORECASE)


@dataclass(frozen=True)
class Page:
    url: str
    status: int
    html: str


@dataclass
class CrawlResult:
    start_url: str
    final_url: str = ""  # the homepage after redirects; "" when it could not be read
    pages: list[Page] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    blocked_by_robots: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    transient: bool = False  # a failure worth retrying kept us from reading the site

    @property
    def homepage(self) -> Page | None:
        return self.pages[0] if self.pages and self.pages[0].url == self.final_url else None


def user_agent() -> str:
    contact = getattr(settings, "OUTREACH_CRAWLER_CONTACT", "") or f"mailto:{settings.DEFAULT_FROM_EMAIL}"
    return f"{ROBOT_NAME}/1.0 (+{contact})"


def http_fetch(url: str, *, max_bytes: int = PAGE_MAX_BYTES):
    return http.get(
        url,
        headers={"User-Agent": user_agent(), "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"},
        timeout=PAGE_TIMEOUT,
        max_bytes=max_bytes,
        retries=1,
        allow_redirects=False,
    )


# --- small helpers ---------------------------------------------------------------
def _site_key(url: str) -> tuple[str, int | None] | None:
    """Same site = same host (less `www.`) and port; http and https count as one site."""
    try:
        parts = urlsplit(url)
        port = parts.port
        return canonical_domain(parts.hostname or ""), (None if port in (None, 80, 443) else port)
    except (ValueError, InvalidURL):
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _dedupe_key(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path.rstrip('/') or '/'}?{parts.query}"


def _mime(response) -> str:
    return (response.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()


def _looks_like_html(content: bytes) -> bool:
    head = content[:1024].lstrip().lower()
    return b"\x00" not in head and (head.startswith(b"<") or b"<html" in head or b"<body" in head)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([a-z0-9_.:-]+)""", re.IGNORECASE)


def decode_html(content: bytes, content_type: str = "") -> str:
    """Header charset, then <meta charset>, then UTF-8, then cp1251 (the usual on old Russian sites)."""
    match = re.search(r"charset\s*=\s*[\"']?([a-z0-9_.:-]+)", content_type or "", re.IGNORECASE)
    meta = _META_CHARSET.search(content[:4096])
    for charset in (match and match.group(1), meta and meta.group(1).decode("ascii")):
        if charset:
            try:
                return content.decode(charset, errors="replace")
            except LookupError:
                continue
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("cp1251", errors="replace")


class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []  # (href, text)
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            self._open = [href, ""] if href else None

    def handle_data(self, data):
        if self._open is not None:
            self._open[1] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.links.append((self._open[0], " ".join(self._open[1].split()).lower()))
            self._open = None


def contact_links(html: str, base_url: str, *, limit: int = MAX_DISCOVERED) -> list[str]:
    """Links on the page to the same site whose path or text look like a contacts/about page, best first."""
    parser = _Links()
    try:
        parser.feed(html)
        parser.close()
    except AssertionError:
        pass
    site = _site_key(base_url)
    if site is None:
        return []
    found: dict[str, tuple[int, int, str]] = {}
    for position, (href, text) in enumerate(parser.links):
        href = href.strip()
        if href.lower().startswith(("mailto:", "tel:", "javascript:", "#")):
            continue
        url = urljoin(base_url, href).split("#", 1)[0]
        if urlsplit(url).scheme not in ("http", "https") or _site_key(url) != site:
            continue
        path = unquote(urlsplit(url).path).lower()
        if _NOT_PAGES.search(path) or path in ("", "/"):
            continue
        rank = next((i for i, words in enumerate(LINK_WORDS) if any(w in path or w in text for w in words)), None)
        key = _dedupe_key(url)
        if rank is not None and key not in found:
            found[key] = (rank, position, url)
    return [url for _, _, url in sorted(found.values())[:limit]]


# --- robots.txt --------------------------------------------------------------------
class _Robots:
    """One robots.txt per origin, fetched on first need."""

    def __init__(self, fetch: Callable, result: CrawlResult):
        self._fetch = fetch
        self._result = result
        self._parsers: dict[str, RobotFileParser] = {}

    def allowed(self, url: str) -> bool:
        origin = _origin(url)
        if origin not in self._parsers:
            self._parsers[origin] = self._load(origin)
        return self._parsers[origin].can_fetch(user_agent(), url)

    def _follow(self, url: str):
        """RFC 9309 2.3.1.2: follow at least five redirects, wherever they go."""
        for _ in range(MAX_REDIRECTS + 1):
            response = self._fetch(url, max_bytes=ROBOTS_MAX_BYTES)
            location = response.headers.get("Location")
            if response.status_code not in REDIRECTS or not location:
                return response
            url = urljoin(url, location)
        return None

    def _load(self, origin: str) -> RobotFileParser:
        parser = RobotFileParser(origin + "/robots.txt")
        try:
            response = self._follow(origin + "/robots.txt")
        except http.BlockedDestination as exc:
            parser.disallow_all = True
            self._result.errors.append(f"{origin}/robots.txt: {exc}")
            return parser
        except http.TransientHttpError as exc:
            # RFC 9309 2.3.1.4: unreachable robots.txt -> assume everything is disallowed.
            parser.disallow_all = True
            self._result.errors.append(f"{origin}/robots.txt: {exc}")
            self._result.transient = True
            return parser
        except http.HttpError:  # 4xx, too large, bad URL: no usable rules -> allowed
            parser.allow_all = True
            return parser
        if response is None or response.status_code != 200:  # no rules to be had: as if there were no file
            parser.allow_all = True
            return parser
        parser.parse(response.content.decode("utf-8", errors="replace").splitlines())
        return parser


# --- the crawl ---------------------------------------------------------------------
class _Skip(Exception):
    pass


class _Blocked(Exception):
    pass


class _Seen(Exception):
    pass


def _get(url: str, *, fetch: Callable, robots: _Robots, site, follow_offsite: bool, seen=frozenset()):
    """(final URL, response) for a 2xx answer, following redirects hop by hop."""
    for hop in range(MAX_REDIRECTS + 1):
        if hop and _dedupe_key(url) in seen:
            raise _Seen(url)
        if not robots.allowed(url):
            raise _Blocked(url)
        response = fetch(url)
        if response.status_code not in REDIRECTS:
            return url, response
        location = response.headers.get("Location")
        if not location:
            raise _Skip(f"{url}: redirect without Location")
        target = urljoin(url, location).split("#", 1)[0]
        if urlsplit(target).scheme not in ("http", "https"):
            raise _Skip(f"{url}: redirect to a non-http URL")
        if _site_key(target) != site and not follow_offsite:
            raise _Skip(f"{url}: redirects off-site")
        url = target
    raise _Skip(f"{url}: too many redirects")


def crawl_site(url: str, *, fetch: Callable | None = None, max_pages: int = 12) -> CrawlResult:
    fetch = fetch or http_fetch
    result = CrawlResult(start_url=url)
    try:
        start = normalize_url(url)
    except InvalidURL as exc:
        result.errors.append(f"{url}: {exc}")
        return result
    robots = _Robots(fetch, result)
    homepage = _origin(start) + "/"

    # The homepage may move the site (http -> https, a new domain): later pages go where it went.
    try:
        final, response = _get(homepage, fetch=fetch, robots=robots, site=_site_key(homepage), follow_offsite=True)
    except _Blocked:
        result.blocked_by_robots.append(homepage)
        if result.transient:
            return result  # robots.txt unreachable: nothing may be fetched, so stop here
        final, response = homepage, None
    except _Skip as exc:
        result.errors.append(str(exc))
        return result
    except http.HttpError as exc:
        result.errors.append(f"{homepage}: {exc}")
        if isinstance(exc, http.TransientHttpError):
            result.transient = True
        if exc.status is None or exc.status >= 500 or exc.status == 429:
            return result  # the site is not answering: the other pages would not either
        final, response = homepage, None

    site = _site_key(final)
    seen = {_dedupe_key(final)}
    queue: list[tuple[str, bool]] = []  # (url, guessed)
    if response is not None:
        page = _as_page(final, response, result)
        if page is not None:
            result.final_url = final
            result.pages.append(page)
            queue += [(link, False) for link in contact_links(page.html, final)]
    queue += [(urljoin(final, path), True) for path in FIXED_PATHS[1:]]

    budget = max_pages - 1
    for target, guessed in queue:
        key = _dedupe_key(target)
        if key in seen or budget <= 0:
            continue
        seen.add(key)
        budget -= 1
        try:
            landed, response = _get(target, fetch=fetch, robots=robots, site=site, follow_offsite=False, seen=seen)
        except _Seen:
            continue  # /contacts -> /contact, already read
        except _Blocked as exc:
            result.blocked_by_robots.append(str(exc))
            if str(exc) == target:
                budget += 1  # never requested
            continue
        except _Skip as exc:
            result.skipped.append(str(exc))
            continue
        except http.HttpError as exc:
            if guessed and exc.status in (404, 410):
                result.skipped.append(f"{target}: HTTP {exc.status}")
            else:
                result.errors.append(f"{target}: {exc}")
            continue
        seen.add(_dedupe_key(landed))
        page = _as_page(landed, response, result)
        if page is not None:
            result.pages.append(page)
    return result


def _as_page(url: str, response, result: CrawlResult) -> Page | None:
    mime = _mime(response)
    if mime in HTML_TYPES or (not mime and _looks_like_html(response.content)):
        return Page(
            url=url,
            status=response.status_code,
            html=decode_html(response.content, response.headers.get("Content-Type", "")),
        )
    result.skipped.append(f"{url}: not HTML ({mime or 'no Content-Type'})")
    return None
