"""E-mail addresses and a text excerpt from one HTML page: pure functions, no I/O.

    extract_emails('<a href="mailto:Sales@Example.com">…</a> info@example.com')
        -> [ScoredEmail("sales@example.com", 1.0, "mailto"), ScoredEmail("info@example.com", 0.85, "text")]
    pick_primary(emails, base_domain="example.com") -> (primary or None, [the others, best first])
    visible_text_excerpt("<p>Привет\\x00 мир\\x08!</p>") -> "Привет мир!"

Where an address was found sets its score: a `mailto:` link 1.0 (the site meant it to be
written to), any other attribute or JSON-LD 0.92, visible text 0.85. Cloudflare's e-mail
protection is decoded and scored as what it hides: the `/cdn-cgi/l/email-protection#…`
link as `mailto`, a `data-cfemail` element as `text`. The same address found twice keeps
its best score.

Before matching, text and attribute values are de-obfuscated: `\\u003e`/`\\x3e`/`\\/`
escapes decoded, %-escapes decoded (`%20info@…` -> ` info@…`), `[at]`, `(at)`, `{at}`,
`[собака]` -> `@`, `[dot]`, `(dot)`, `{dot}`, `[точка]` -> `.`, `name @ host` -> `name@host`,
and the plain-word form `name at host dot ru` (only with ` dot `: `we are at example.com`
is prose, not an address).

Rejected as junk (`junk_reason`): a "domain" ending in a file extension (`logo@2x.png`),
escape residue (`u003einfo@site.ru`: the backslash was lost, so the `>` can't be trusted
back), hex hashes as the local part (Sentry DSNs), tracking and placeholder domains,
no-reply mailboxes. What is left must match EMAIL_RE (ASCII local part, a domain with a
letter TLD) and pass Django's `validate_email`. Domains are stored IDNA-encoded (ASCII),
so SMTP and de-duplication see one spelling; everything is lowercased.

`base_domain` (the site's host) only orders the result: see `rank`. A form field's
`placeholder` is never read (it holds samples like `ivanov@mail.ru`).

The parser is the standard library's html.parser: it never raises on broken markup.
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from urllib.parse import unquote

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

SCORE_MAILTO = 1.0
SCORE_ATTRIBUTE = 0.92
SCORE_TEXT = 0.85
SCORES = {"mailto": SCORE_MAILTO, "attribute": SCORE_ATTRIBUTE, "text": SCORE_TEXT}

_LABEL = r"[a-z0-9а-яё](?:[a-z0-9а-яё-]{0,61}[a-z0-9а-яё])?"
_DOMAIN = rf"(?:{_LABEL}\.)+(?:[a-zа-яё]{{2,24}}|xn--[a-z0-9-]{{1,59}})"
_LOCAL = r"[a-z0-9][a-z0-9._+-]{0,63}"
# The look-arounds keep a match from starting or ending inside a longer token:
# no `ail@example.co` out of `mail@example.com`.
EMAIL_RE = re.compile(rf"(?<![a-z0-9._+-])({_LOCAL})@({_DOMAIN})(?![a-z0-9а-яё_-])", re.IGNORECASE)
_EMAIL_FULL = re.compile(rf"{_LOCAL}@{_DOMAIN}", re.IGNORECASE)

_AT = (
    r"\s{0,3}(?:\[\s{0,3}(?:at|собака)\s{0,3}\]|\(\s{0,3}(?:at|собака)\s{0,3}\)|\{\s{0,3}(?:at|собака)\s{0,3}\})\s{0,3}"
)
_DOT = (
    r"\s{0,3}(?:\[\s{0,3}(?:dot|точка)\s{0,3}\]|\(\s{0,3}(?:dot|точка)\s{0,3}\)|\{\s{0,3}(?:dot|точка)\s{0,3}\})\s{0,3}"
)
_AT_RE = re.compile(_AT, re.IGNORECASE)
_DOT_RE = re.compile(_DOT, re.IGNORECASE)
_SPACED_AT_RE = re.compile(r"(?<=[a-z0-9])\s{1,3}@\s{1,3}(?=[a-z0-9])", re.IGNORECASE)
# Bounded repeats everywhere: an unbounded one makes a long run like "b-b-b-..." quadratic.
_WORDS_RE = re.compile(
    r"(?<![a-z0-9._+-])([a-z0-9][a-z0-9._+-]{0,63})\s{1,3}at\s{1,3}"
    r"([a-z0-9-]{1,63}(?:\s{1,3}dot\s{1,3}[a-z0-9-]{1,63}){1,8})\b",
    re.IGNORECASE,
)
_WORD_DOT_RE = re.compile(r"\s{1,3}dot\s{1,3}", re.IGNORECASE)
# Attribute values worth a regex run: an @ in some spelling, or a written-out "at".
_MAYBE_EMAIL_RE = re.compile(r"@|%40|\\u0040|\\x40|[\[({]\s{0,3}(?:at|собака)|\sat\s", re.IGNORECASE)
_ESCAPE_RE = re.compile(r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\(/)")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


FILE_EXTENSIONS = _words(
    "png jpg jpeg gif webp svg bmp ico tif tiff avif heic css js mjs map json xml pdf zip rar gz mp3 mp4 "
    "webm mov avi woff woff2 ttf otf eot php html htm asp aspx txt doc docx xls xlsx"
)
# Addresses of analytics, error-tracking and site-builder services, and template placeholders.
JUNK_DOMAINS = _words(
    "sentry.io sentry-next.wixpress.com sentry.wixpress.com wixpress.com bugsnag.com googletagmanager.com "
    "google-analytics.com doubleclick.net mc.yandex.ru domain.com domain.ru yourdomain.com "
    "your-domain.com yoursite.com yourcompany.com"
)
NO_REPLY_LOCALS = _words("noreply no-reply no_reply donotreply do-not-reply do_not_reply mailer-daemon bounce bounces")
PLACEHOLDER_LOCALS = _words("youremail your.email your-email yourname username your example")
_RESIDUE_RE = re.compile(r"^(?:u00[0-9a-f]{2}|x(?:3c|3e|22|27))")
_HASH_RE = re.compile(r"^[0-9a-f]{16,}$")

# pick_primary's tie-breaks after the score: own domain first, then these role addresses,
# then anyone else; the mailboxes in LOW_ROLES (jobs, abuse, privacy ...) last.
ROLE_ORDER = ("sales", "info", "office", "hello", "contact", "contacts", "mail", "zakaz", "order", "orders")
LOW_ROLES = _words(
    "hr job jobs career careers resume cv vacancy rabota abuse postmaster webmaster hostmaster privacy "
    "dpo legal security billing buh accounting"
)

_SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "title", "iframe", "object"})
_BLOCK_TAGS = _words(
    "address article aside blockquote br dd div dl dt fieldset figcaption figure footer form h1 h2 h3 h4 "
    "h5 h6 header hr li main nav ol option p pre section table tbody td tfoot th thead tr ul"
)
_CF_LINK = "/cdn-cgi/l/email-protection#"


@dataclass(frozen=True)
class ScoredEmail:
    email: str  # lowercased, domain IDNA-encoded
    score: float
    source: str  # "mailto" | "attribute" | "text"

    @property
    def domain(self) -> str:
        return self.email.rpartition("@")[2]

    def as_dict(self) -> dict:
        return {"email": self.email, "score": self.score, "source": self.source}


@dataclass
class Extraction:
    emails: list[ScoredEmail]
    rejected: list[tuple[str, str]]  # (candidate, reason), for the dry run and debugging


# --- decoding ----------------------------------------------------------------------
def decode_cfemail(hex_string: str) -> str | None:
    """Cloudflare's obfuscation: the first byte is an XOR key for the rest."""
    try:
        data = bytes.fromhex(hex_string.strip())
    except ValueError:
        return None
    if len(data) < 2:
        return None
    try:
        return bytes(b ^ data[0] for b in data[1:]).decode("utf-8")
    except UnicodeDecodeError:
        return None


def _unescape(text: str) -> str:
    def one(match):
        code = match.group(1) or match.group(2)
        return chr(int(code, 16)) if code else "/"

    return _ESCAPE_RE.sub(one, text)


def deobfuscate(text: str) -> str:
    """The text with escapes, %-escapes and written-out `at`/`dot` turned back into an address."""
    if "\\" in text:
        text = _unescape(text)
    if "%" in text:
        text = unquote(text, errors="replace")
    text = _AT_RE.sub("@", text)
    text = _DOT_RE.sub(".", text)
    text = _SPACED_AT_RE.sub("@", text)
    return _WORDS_RE.sub(lambda m: m.group(1) + "@" + _WORD_DOT_RE.sub(".", m.group(2)), text)


# --- judging one candidate ---------------------------------------------------------
def _ascii_domain(domain: str) -> str | None:
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def junk_reason(email: str) -> str | None:
    """Why a syntactically plausible address is not a mailbox to write to, or None."""
    local, _, domain = email.lower().rpartition("@")
    if domain.rsplit(".", 1)[-1] in FILE_EXTENSIONS:
        return "file name"
    if _RESIDUE_RE.match(local):
        return "escape residue"
    if _HASH_RE.match(local):
        return "hash"
    labels = domain.split(".")
    if any(".".join(labels[i:]) in JUNK_DOMAINS for i in range(len(labels) - 1)):
        return "tracking or placeholder domain"
    if local in NO_REPLY_LOCALS:
        return "no-reply mailbox"
    if local in PLACEHOLDER_LOCALS:
        return "placeholder"
    return None


@lru_cache(maxsize=4096)  # pages repeat the same address many times; this is pure
def clean_email(candidate: str) -> tuple[str | None, str]:
    """(the normalised address, "") or (None, why not)."""
    value = candidate.strip().strip(".").lower()
    if not _EMAIL_FULL.fullmatch(value):
        return None, "syntax"
    local, _, domain = value.rpartition("@")
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        return None, "syntax"
    value = f"{local}@{ascii_domain}"
    reason = junk_reason(value)
    if reason:
        return None, reason
    if len(value) > 254:
        return None, "syntax"
    try:
        validate_email(value)
    except ValidationError:
        return None, "syntax"
    return value, ""


# --- the page ----------------------------------------------------------------------
class _PageParser(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.mailto: list[str] = []
        self.attributes: list[str] = []
        self.cf_text: list[str] = []
        self._skip = 0
        self._ld_json = False

    def handle_starttag(self, tag, attrs):
        if tag in _BLOCK_TAGS:
            self.text.append("\n")
        if tag in _SKIP_TAGS:
            self._skip += 1
            self._ld_json = tag == "script" and any(
                k == "type" and (v or "").strip().lower() == "application/ld+json" for k, v in attrs
            )
        for name, value in attrs:
            if not value:
                continue
            if name == "href" and value.strip().lower().startswith("mailto:"):
                self.mailto.append(value.strip()[7:])
            elif name == "href" and _CF_LINK in value:
                decoded = decode_cfemail(value.split(_CF_LINK, 1)[1])
                if decoded:
                    self.mailto.append(decoded)
            elif name == "data-cfemail":
                decoded = decode_cfemail(value)
                if decoded:
                    self.cf_text.append(decoded)
            elif name != "placeholder" and _MAYBE_EMAIL_RE.search(value):  # "your@email.ru" in forms
                self.attributes.append(value)

    def handle_startendtag(self, tag, attrs):
        # <iframe ... /> has no end tag to come: read its attributes, skip nothing after it.
        self.handle_starttag("" if tag in _SKIP_TAGS else tag, attrs)

    def handle_endtag(self, tag):
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
            self._ld_json = False
        if tag in _BLOCK_TAGS:
            self.text.append("\n")

    def handle_data(self, data):
        if self._ld_json:
            self.attributes.append(data)
        elif not self._skip:
            self.text.append(data)


def _parse(html: str) -> _PageParser:
    parser = _PageParser()
    try:
        parser.feed(html or "")
        parser.close()
    except AssertionError:  # html.parser's last resort on some broken declarations; keep what was read
        pass
    return parser


def _candidates(text: str) -> list[str]:
    return [f"{m.group(1)}@{m.group(2)}" for m in EMAIL_RE.finditer(deobfuscate(text))]


def _mailto_candidates(value: str) -> list[str]:
    # mailto:a@x.ru,b@x.ru?subject=... ; a phone number here (mailto:+7495...) fails the syntax check
    addresses = unquote(value.split("?", 1)[0], errors="replace")
    return [a for a in re.split(r"[,;]", addresses) if a.strip()]


def extract_with_rejections(html: str, *, base_domain: str | None = None) -> Extraction:
    parser = _parse(html)
    found: dict[str, ScoredEmail] = {}
    rejected: list[tuple[str, str]] = []

    def consider(candidate: str, source: str):
        email, reason = clean_email(candidate)
        if email is None:
            if (candidate.strip(), reason) not in rejected:
                rejected.append((candidate.strip(), reason))
            return
        score = SCORES[source]
        if email not in found or found[email].score < score:
            found[email] = ScoredEmail(email, score, source)

    for value in parser.mailto:
        for candidate in _mailto_candidates(value):
            consider(candidate, "mailto")
    for value in parser.attributes:
        for candidate in _candidates(value):
            consider(candidate, "attribute")
    for candidate in parser.cf_text + _candidates("".join(parser.text)):
        consider(candidate, "text")
    emails = rank(merge_emails([list(found.values())]), base_domain=base_domain)
    return Extraction(emails=emails, rejected=rejected)


def extract_emails(html: str, *, base_domain: str | None = None) -> list[ScoredEmail]:
    """Every acceptable address on the page, best first (see `rank`)."""
    return extract_with_rejections(html, base_domain=base_domain).emails


# --- choosing ----------------------------------------------------------------------
def merge_emails(lists) -> list[ScoredEmail]:
    """One entry per address, with its best score; first-seen order otherwise."""
    best: dict[str, ScoredEmail] = {}
    for emails in lists:
        for item in emails:
            if item.email not in best or best[item.email].score < item.score:
                best[item.email] = item
    return list(best.values())


def _own_domain(domain: str, base_domain: str | None) -> bool:
    if not base_domain:
        return False
    base = base_domain.lower().removeprefix("www.")
    return domain == base or domain.endswith("." + base) or base.endswith("." + domain)


def _role_rank(local: str) -> int:
    if local in ROLE_ORDER:
        return ROLE_ORDER.index(local)
    return len(ROLE_ORDER) + (1 if local in LOW_ROLES else 0)


def rank(emails: list[ScoredEmail], *, base_domain: str | None = None) -> list[ScoredEmail]:
    """Best first: score, then the site's own domain, then ROLE_ORDER, then first seen (stable sort)."""
    return sorted(
        emails,
        key=lambda e: (-e.score, not _own_domain(e.domain, base_domain), _role_rank(e.email.partition("@")[0])),
    )


def pick_primary(
    emails: list[ScoredEmail], *, base_domain: str | None = None
) -> tuple[ScoredEmail | None, list[ScoredEmail]]:
    """(the primary address, the others best first); (None, []) when there are none."""
    ranked = rank(merge_emails([emails]), base_domain=base_domain)
    return (ranked[0], ranked[1:]) if ranked else (None, [])


# --- the excerpt -------------------------------------------------------------------
def clean_text(text: str) -> str:
    """Control and format characters removed (not replaced), whitespace collapsed."""
    kept = []
    for char in text:
        if char in "\t\n\r\f\v":
            kept.append(" ")
        elif char != "\ufffd" and unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Co"):
            kept.append(char)
    return " ".join("".join(kept).split())


def visible_text_excerpt(html: str, *, limit: int = 2000) -> str:
    """The page's visible text (no scripts, styles, title), cleaned, at most `limit` characters."""
    text = clean_text("".join(_parse(html).text))
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space >= limit * 0.8 else cut).rstrip()
