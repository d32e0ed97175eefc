"""The VK API client: every call to VK goes through here, over leadops.http.

One `call` is one HTTP request, taken from the shared per-token rate limiter
(`vk:<label>`) first, so the 3 / 20 requests a second VK allows a token hold
across every worker. What VK answers becomes an exception the sync can act on:

  6  TooManyRequests   retried here on the same token (0.4 s, 0.8, 1.6, 3.2), then raised
  9  TokenSetAside     flood control: the token rests 1 hour
  29 TokenSetAside     a method's daily quota: the token rests until the next 00:00 Moscow time
  14 TokenSetAside     captcha: the token rests 10 minutes (we never solve captchas)
  5  TokenInvalid      the token is marked invalid in the database, for good
  13 ResponseTooBig    "Response size is too big" / "Too many API calls": halve the batch
  27, 28 WrongTokenKind  the method does not take this kind of token (a PermanentVkError)
  1, 10                VK's own trouble: retried like HTTP trouble, then PermanentVkError
  anything else        PermanentVkError (13 runtime errors in execute code included)

A set-aside token is written to its VkToken row (status rate_limited,
rate_limited_until) and blocked in the limiter, so other workers skip it too.
HTTP trouble (5xx, dropped connections, timeouts) is retried 3 times in all,
then leadops.http's TransientHttpError is raised.

Tokens travel as POST form fields, never in a URL, and no message or log line
carries one: TokenHandle's repr hides the secret and VK's messages are scrubbed.
"""

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Q
from django.utils import timezone as dj_timezone

from leadops import http, ratelimit

from .errors import (  # noqa: F401  (re-exported: callers import the errors from the client)
    CommunityNotFound,
    NoUsableToken,
    PermanentVkError,
    ResponseTooBig,
    TokenInvalid,
    TokenSetAside,
    TooManyRequests,
    VkApiError,
    WrongTokenKind,
)
from .models import VkToken

logger = logging.getLogger(__name__)

TIMEOUT = (5, 60)  # connect, read: an execute of 25 calls can take VK a while
MAX_RESPONSE_BYTES = 16 * 1024 * 1024  # VK caps execute at 5 MB of JSON; leave room
RATE_MARGIN = 0.9  # run tokens at 90 % of VK's limit: network jitter must not push a window over
ACQUIRE_WAIT = 30.0  # seconds per limiter attempt; a longer block means the token is set aside
TOO_MANY_TRIES = 5  # attempts on error 6
TOO_MANY_BACKOFF = 0.4  # then 0.8, 1.6, 3.2
TRANSIENT_TRIES = 3  # attempts on HTTP trouble and VK errors 1 / 10
TRANSIENT_BACKOFF = 1.0  # then 2
TOUCH_EVERY = 60.0  # seconds between last_used_at writes per token
FLOOD_REST = timedelta(hours=1)  # error 9
CAPTCHA_REST = timedelta(minutes=10)  # error 14
MSK = timezone(timedelta(hours=3), "MSK")  # error 29 quotas reset at midnight Moscow time (no DST)


# --- tokens ---------------------------------------------------------------------
@dataclass
class TokenHandle:
    pk: int | None  # the VkToken row; None for a token not from the database (tests, one-offs)
    label: str
    kind: str  # user | community | service
    secret: str = field(repr=False)

    def __str__(self) -> str:
        return self.label

    @property
    def rate(self) -> int:
        """VK's requests per second for the token's kind."""
        return 20 if self.kind == "community" else 3

    @property
    def key(self) -> str:
        """The token's key in leadops.ratelimit."""
        return f"vk:{self.label}"


def _form(params: dict) -> dict[str, str]:
    if "access_token" in params:
        raise ValueError("pass the token as token=, not in params")
    form = {}
    for name, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            form[name] = "1" if value else "0"
        elif isinstance(value, list | tuple | set):
            form[name] = ",".join(str(v) for v in value)
        else:
            form[name] = str(value)
    return form


def parse_community_ref(ref: str | int) -> str:
    """What groups.getById takes for a link, screen name or id: "123" or "name"."""
    if isinstance(ref, int):
        return str(abs(ref))
    text = ref.strip()
    if "vk.com/" in text or "vk.ru/" in text or text.startswith(("http://", "https://")):
        parts = urlsplit(text if "://" in text else f"https://{text}")
        text = parts.path.strip("/").split("/")[0]
    text = text.lstrip("@")
    match = re.fullmatch(r"(?:club|public|event)?-?(\d+)", text)
    if match:
        return match.group(1)
    if not re.fullmatch(r"[A-Za-z0-9_.]+", text):
        raise CommunityNotFound(100, f"not a VK community reference: {ref!r}"[:200], "groups.getById")
    return text


# --- the client -----------------------------------------------------------------
class VkClient:
    def __init__(
        self,
        tokens: list[TokenHandle],
        *,
        api_url: str | None = None,
        version: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.tokens = list(tokens)
        url = api_url or settings.VK_API_URL
        self.api_url = url if url.endswith("/") else url + "/"
        self.version = version or settings.VK_API_VERSION
        self.sleep = sleep
        self._lock = threading.Lock()  # the sync runs one thread per token over one client
        self._aside: dict[str, tuple[datetime, int]] = {}  # label -> (until, the VK error code; 0: the limiter)
        self._invalid: set[str] = set()
        self._touched: dict[str, float] = {}  # label -> time.monotonic() of the last last_used_at write
        self._picked: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"<VkClient {[t.label for t in self.tokens]}>"

    @classmethod
    def from_db(cls, *, kinds=("user", "service", "community"), community=None, **kwargs) -> "VkClient":
        """The usable VkTokens of these kinds, decrypted.

        With `community` (a VkCommunity or its id), community tokens are only those linked to it;
        user and service tokens read any community. Tokens whose rest is over become active again.
        """
        now = dj_timezone.now()
        VkToken.objects.filter(
            Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lte=now), status=VkToken.Status.RATE_LIMITED
        ).update(status=VkToken.Status.ACTIVE, rate_limited_until=None)
        rows = VkToken.objects.filter(kind__in=kinds, status=VkToken.Status.ACTIVE).filter(
            Q(rate_limited_until__isnull=True) | Q(rate_limited_until__lte=now)
        )
        if community is not None:
            community_id = getattr(community, "pk", community)
            rows = rows.filter(
                ~Q(kind=VkToken.Kind.COMMUNITY) | Q(vktokencommunity__community_id=community_id)
            ).distinct()
        handles = [TokenHandle(pk=row.pk, label=row.label, kind=row.kind, secret=row.token) for row in rows]
        return cls(handles, **kwargs)

    # --- token state -----------------------------------------------------------
    def usable_tokens(self) -> list[TokenHandle]:
        """Tokens not invalid, not set aside by this client, not blocked in the shared limiter."""
        now = datetime.now(UTC)
        with self._lock:
            mine = [
                t
                for t in self.tokens
                if t.label not in self._invalid and (t.label not in self._aside or self._aside[t.label][0] <= now)
            ]
        return [t for t in mine if ratelimit.blocked_until(t.key) is None]

    def pick_token(self) -> TokenHandle:
        """The usable token this client used least recently; NoUsableToken when there is none."""
        usable = self.usable_tokens()
        if not usable:
            raise NoUsableToken("no usable VK token: all are invalid or set aside")
        with self._lock:
            token = min(usable, key=lambda t: self._picked.get(t.label, 0.0))
            self._picked[token.label] = time.monotonic()
        return token

    def _refuse_if_unusable(self, method: str, token: TokenHandle) -> None:
        with self._lock:
            invalid = token.label in self._invalid
            until, code = self._aside.get(token.label, (None, 0))
        if invalid:
            raise TokenInvalid(5, f"token {token.label} was found invalid earlier", method)
        if until is not None and until > datetime.now(UTC):
            raise TokenSetAside(
                code, f"token {token.label} rests until {until:%Y-%m-%d %H:%M} UTC", method, until=until
            )

    def _acquire(self, method: str, token: TokenHandle) -> None:
        while True:
            try:
                ratelimit.acquire(token.key, token.rate * RATE_MARGIN, burst=1, timeout=ACQUIRE_WAIT)
                return
            except ratelimit.Blocked as exc:  # another worker set it aside
                with self._lock:
                    self._aside[token.label] = (exc.until, 0)
                raise TokenSetAside(
                    0, f"token {token.label} is blocked until {exc.until:%Y-%m-%d %H:%M} UTC", method, until=exc.until
                ) from None
            except ratelimit.RateLimitTimeout:
                continue  # many workers share the token: keep waiting our turn

    def _touch(self, token: TokenHandle) -> None:
        if token.pk is None:
            return
        now = time.monotonic()
        with self._lock:
            last = self._touched.get(token.label)
            if last is not None and now - last < TOUCH_EVERY:
                return
            self._touched[token.label] = now
        try:
            VkToken.objects.filter(pk=token.pk).update(last_used_at=dj_timezone.now())
        except DatabaseError:  # only a "last used" stamp: never worth failing a fetch over
            logger.debug("VK token %s: last_used_at not written", token.label)

    def _set_aside(self, token: TokenHandle, exc: TokenSetAside) -> None:
        with self._lock:
            previous = self._aside.get(token.label, (exc.until, exc.code))[0]
            self._aside[token.label] = (max(exc.until, previous), exc.code)
        ratelimit.block(token.key, (exc.until - datetime.now(UTC)).total_seconds())
        logger.warning("VK token %s set aside until %s: error %s", token.label, exc.until.isoformat(), exc.code)
        if token.pk is not None:
            VkToken.objects.filter(pk=token.pk).update(
                status=VkToken.Status.RATE_LIMITED, rate_limited_until=exc.until, last_error=str(exc)[:1000]
            )

    def _mark_invalid(self, token: TokenHandle, exc: TokenInvalid) -> None:
        with self._lock:
            self._invalid.add(token.label)
        logger.warning("VK token %s is invalid: %s", token.label, exc.message)
        if token.pk is not None:
            VkToken.objects.filter(pk=token.pk).update(status=VkToken.Status.INVALID, last_error=str(exc)[:1000])

    # --- requests --------------------------------------------------------------
    def call(self, method: str, params: dict, *, token: TokenHandle, retry_transient: bool = True) -> Any:
        """One VK method; returns its "response". retry_transient=False for calls that must not repeat."""
        return self._request(method, params, token, retry_transient).get("response")

    def execute(
        self, code: str, *, token: TokenHandle, args: dict | None = None, retry_transient: bool = True
    ) -> tuple[Any, list[dict]]:
        """Run VKScript; returns (response, execute_errors). `args` become VKScript's Args.*"""
        body = self._request("execute", {**(args or {}), "code": code}, token, retry_transient)
        return body.get("response"), list(body.get("execute_errors") or [])

    def _request(self, method: str, params: dict, token: TokenHandle, retry_transient: bool) -> dict:
        form = _form(params)
        too_many = troubles = 0
        while True:
            self._refuse_if_unusable(method, token)
            self._acquire(method, token)
            try:
                body = self._post(method, form, token)
            except http.TransientHttpError as exc:
                troubles += 1
                if not retry_transient or troubles >= TRANSIENT_TRIES:
                    raise
                logger.info("VK %s via %s: %s; retrying", method, token.label, exc)
                self.sleep(TRANSIENT_BACKOFF * 2 ** (troubles - 1))
                continue
            self._touch(token)
            error = body.get("error")
            if error is None:
                return body
            exc = self._error(method, error, token)
            if isinstance(exc, TooManyRequests):
                ratelimit.count(token.key, rate_errors=1)  # the dashboard's limits card
                too_many += 1
                if too_many < TOO_MANY_TRIES:
                    logger.info("VK %s via %s: error 6; retrying on the same token", method, token.label)
                    self.sleep(TOO_MANY_BACKOFF * 2 ** (too_many - 1))
                    continue
            elif exc.code in (1, 10) and retry_transient:
                troubles += 1
                if troubles < TRANSIENT_TRIES:
                    logger.info("VK %s via %s: error %s; retrying", method, token.label, exc.code)
                    self.sleep(TRANSIENT_BACKOFF * 2 ** (troubles - 1))
                    continue
            elif isinstance(exc, TokenSetAside):
                self._set_aside(token, exc)
            elif isinstance(exc, TokenInvalid):
                self._mark_invalid(token, exc)
            logger.info("VK %s via %s: %s", method, token.label, exc)
            raise exc

    def _post(self, method: str, form: dict[str, str], token: TokenHandle) -> dict:
        logger.debug("VK %s via %s", method, token.label)
        response = http.post(
            self.api_url + method,
            data={**form, "access_token": token.secret, "v": self.version},
            trusted=True,  # VK_API_URL is our own setting
            timeout=TIMEOUT,
            retries=0,  # retried here, so every attempt goes through the rate limiter
            max_bytes=MAX_RESPONSE_BYTES,
        )
        try:
            body = response.json()
        except ValueError:
            raise http.TransientHttpError(f"POST {urlsplit(self.api_url).hostname}: VK answered non-JSON") from None
        if not isinstance(body, dict):
            raise http.TransientHttpError(f"POST {urlsplit(self.api_url).hostname}: VK answered a bare JSON value")
        return body

    def _error(self, method: str, error: dict, token: TokenHandle) -> VkApiError:
        try:
            code = int(error.get("error_code", 0))
        except (TypeError, ValueError):
            code = 0
        message = str(error.get("error_msg", ""))
        if token.secret:
            message = message.replace(token.secret, "[token]")
        message = message[:500]
        now = datetime.now(UTC)
        if code == 6:
            return TooManyRequests(code, message, method)
        if code == 5:
            return TokenInvalid(code, message, method)
        if code in (9, 14, 29):
            if code == 29:
                midnight = (now.astimezone(MSK) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
                until = midnight.astimezone(UTC)
            else:
                until = now + (FLOOD_REST if code == 9 else CAPTCHA_REST)
            return TokenSetAside(
                code,
                message,
                method,
                until=until,
                captcha_sid=str(error["captcha_sid"]) if error.get("captcha_sid") else None,
                captcha_img=str(error["captcha_img"]) if error.get("captcha_img") else None,
            )
        lowered = message.lower()
        if code == 13 and ("size is too big" in lowered or "too many api calls" in lowered):
            return ResponseTooBig(code, message, method)
        if code in (27, 28):
            return WrongTokenKind(code, message, method)
        return PermanentVkError(code, message, method)

    # --- helpers ---------------------------------------------------------------
    def resolve_community(self, ref: str | int) -> dict:
        """A link, screen name, clubNNN/publicNNN or id -> {"id", "screen_name", "name", "members_count", ...}.

        Also "is_closed", "is_admin" and "admin_level" (of the token that asked: 0 unless it administers
        the community). Tries the usable tokens in turn; CommunityNotFound when VK knows no such community.
        """
        wanted = parse_community_ref(ref)
        last: Exception | None = None
        for token in self.usable_tokens():
            try:
                response = self.call("groups.getById", {"group_id": wanted, "fields": "members_count"}, token=token)
            except (TokenSetAside, TokenInvalid, TooManyRequests, WrongTokenKind, http.TransientHttpError) as exc:
                last = exc
                continue
            except PermanentVkError as exc:
                if exc.code in (100, 113, 125, 15, 203):
                    raise CommunityNotFound(exc.code, f"no VK community {wanted}: {exc.message}", exc.method) from None
                raise
            groups = response.get("groups", []) if isinstance(response, dict) else response or []
            if not groups:
                raise CommunityNotFound(100, f"no VK community {wanted}", "groups.getById")
            group = groups[0]
            return {
                "id": int(group["id"]),
                "screen_name": group.get("screen_name", ""),
                "name": group.get("name", ""),
                "members_count": group.get("members_count"),
                "is_closed": group.get("is_closed"),
                "is_admin": bool(group.get("is_admin")),
                "admin_level": int(group.get("admin_level") or 0) if group.get("is_admin") else 0,
            }
        if last is not None and not isinstance(last, TokenSetAside | TokenInvalid):
            raise last
        raise NoUsableToken("no usable VK token to resolve a community")
