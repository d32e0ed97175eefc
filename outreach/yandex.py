"""The Yandex Search API v2 client: deferred web searches and their operations.

    client = YandexClient()
    op_id = client.search_async("кафе Москва", 213)          # POST searchAsync -> operation id
    result = client.get_operation(op_id, requested_at=...)    # one poll -> OperationResult

Every request first takes a token from the shared limiter (leadops.ratelimit), so
the limits hold across all workers:
  "yandex"       10 a second, burst 1: every search and every operation poll
  "yandex-hour"  34,999 an hour, burst 1: searches only (a bucket of rate r and
                 burst b admits at most r * 3600 + b in any hour, so <= 35,000)
A retry takes a new token like any other request.

Transient trouble (5xx, 429, dropped connections, timeouts) is retried here with
backoff (1, 2, 4 ... s; a 429's Retry-After is honoured and blocks the "yandex" key
for every worker meanwhile); when it outlasts the retries, YandexUnavailable: the
caller keeps the query / operation and tries again later. It is never a reason to
mark an operation failed (the original did so on the first polling error). A 401
refreshes the IAM token once. 401 / 403 after that are YandexConfigError (expired
static token, missing role, wrong folder); other 4xx are YandexError.

A search retried after an ambiguous failure (a timeout after the request went
out) may create a second operation; that costs one query and is no worse than the
caller retrying later, which it would have to do anyway.

Yandex keeps a deferred search's results 12 hours: an operation older than that
(by the caller's `requested_at`, else the operation's createdAt) is a failure with
code "expired", and without a request when `requested_at` says so already.
"""

import base64
import binascii
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote

import requests
from django.conf import settings
from django.utils import timezone

from leadops import http, ratelimit

from . import queries
from .iam import (  # noqa: F401  (re-exported: callers import the errors from here)
    IamTokenSource,
    YandexConfigError,
    YandexError,
    YandexUnavailable,
    parse_expires_at,
)

logger = logging.getLogger(__name__)

SECOND_LIMIT = ("yandex", 10.0, 1)
HOUR_LIMIT = ("yandex-hour", (queries.MAX_PER_HOUR - 1) / 3600, 1)
OPERATION_TTL = timedelta(hours=12)
SEARCH_TRIES = 4
POLL_TRIES = 5
BACKOFF = 1.0  # seconds, doubled per retry
MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 60.0
POLL_FIRST = 5.0  # poll_delay(0): Yandex usually has a deferred search done within minutes
POLL_MAX = 300.0
TIMEOUT = (5, 30)
MAX_RESPONSE_BYTES = 32 * 1024 * 1024  # rawData is base64 of up to 100 documents' XML

FAMILY_MODE = "FAMILY_MODE_MODERATE"


class OutsideNightWindow(YandexError):
    """YANDEX_ENFORCE_NIGHT_WINDOW is on and it is not 00:00-07:59 Moscow time."""

    def __init__(self, now: datetime):
        self.next_start = queries.next_window_start(now)
        super().__init__(
            "searches run only in the night window 00:00-07:59 Moscow time; "
            f"the next one starts {self.next_start:%Y-%m-%d %H:%M} MSK"
        )


@dataclass(frozen=True)
class OperationResult:
    """One look at an operation.

    done=False: not ready, poll again (see poll_delay). done=True: either raw_data
    (the decoded XML, bytes) or error ({"code", "message", ...}: Yandex's own error,
    or ours: "expired", "not_found", "no_raw_data", "bad_raw_data").
    """

    done: bool
    raw_data: bytes | None = None
    error: dict | None = None
    created_at: datetime | None = None

    @property
    def failed(self) -> bool:
        return self.done and self.error is not None

    @property
    def expired(self) -> bool:
        return bool(self.error) and self.error.get("code") == "expired"


def search_body(text: str, lr: int, folder_id: str) -> dict:
    """The searchAsync request, as the original sent it."""
    return {
        "query": {
            "searchType": "SEARCH_TYPE_RU",
            "queryText": text,
            "familyMode": FAMILY_MODE,
            "page": "0",
            "fixTypoMode": "FIX_TYPO_MODE_ON",
        },
        "sortSpec": {"sortMode": "SORT_MODE_BY_RELEVANCE"},
        "groupSpec": {"groupMode": "GROUP_MODE_DEEP", "groupsOnPage": "100", "docsInGroup": "1"},
        "region": str(lr),
        "l10n": "LOCALIZATION_RU",
        "folderId": folder_id,
        "responseFormat": "FORMAT_XML",
    }


def poll_delay(attempt: int) -> float:
    """Seconds to wait before poll number attempt + 1 of a not-yet-done operation: 5, 10, 20 ... 300."""
    return min(POLL_MAX, POLL_FIRST * 2 ** max(0, attempt))


def _expired(created: datetime) -> OperationResult:
    return OperationResult(
        done=True,
        error={
            "code": "expired",
            "message": "operation is older than 12 h: Yandex keeps deferred search results only that long",
        },
        created_at=created,
    )


class YandexClient:
    def __init__(
        self,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = timezone.now,
        *,
        tokens: IamTokenSource | None = None,
    ):
        self.sleep = sleep
        self.now = now
        self.tokens = tokens or IamTokenSource(now=now, sleep=sleep)

    # --- searches -----------------------------------------------------------
    def search_async(self, text: str, lr: int) -> str:
        """Start a deferred search; return the operation id."""
        if settings.YANDEX_ENFORCE_NIGHT_WINDOW:
            now = self.now()
            if not queries.in_night_window(now):
                raise OutsideNightWindow(now)
        folder = (settings.YANDEX_CLOUD_FOLDER_ID or "").strip()
        if not folder:
            raise YandexConfigError("YANDEX_CLOUD_FOLDER_ID is not set")
        if not text or not text.strip():
            raise ValueError("empty query text")
        body = search_body(text, int(lr), folder)
        response = self._call(
            "POST", settings.YANDEX_SEARCH_URL, body, tries=SEARCH_TRIES, limits=(HOUR_LIMIT, SECOND_LIMIT)
        )
        data = _json(response, "searchAsync")
        operation_id = data.get("id")
        if not isinstance(operation_id, str) or not operation_id:
            raise YandexUnavailable("searchAsync: the answer carries no operation id")
        logger.debug("Yandex searchAsync lr=%s -> %s", lr, operation_id)
        return operation_id

    # --- operations ---------------------------------------------------------
    def get_operation(self, operation_id: str, *, requested_at: datetime | None = None) -> OperationResult:
        """Look at an operation once (transient errors are retried within)."""
        now = self.now()
        if requested_at is not None and now - requested_at > OPERATION_TTL:
            return _expired(requested_at)
        url = settings.YANDEX_OPERATION_URL + quote(operation_id, safe="")
        try:
            response = self._call("GET", url, None, tries=POLL_TRIES, limits=(SECOND_LIMIT,))
        except YandexError as exc:
            if exc.status == 404:
                return OperationResult(
                    done=True,
                    error={
                        "code": "not_found",
                        "message": "Yandex does not know the operation (results are kept 12 h)",
                        "yandex": exc.code,
                    },
                    created_at=requested_at,
                )
            raise
        data = _json(response, "operation")
        created_at = parse_expires_at(data.get("createdAt"))
        if not data.get("done"):
            born = requested_at or created_at
            if born is not None and now - born > OPERATION_TTL:
                return _expired(born)
            return OperationResult(done=False, created_at=created_at)
        error = data.get("error")
        if error:
            if not isinstance(error, dict):
                error = {"message": str(error)}
            error = {**error, "code": error.get("code"), "message": str(error.get("message") or "")}
            return OperationResult(done=True, error=error, created_at=created_at)
        payload = data.get("response")
        raw = payload.get("rawData") if isinstance(payload, dict) else None
        if not raw or not isinstance(raw, str):
            return OperationResult(
                done=True,
                error={"code": "no_raw_data", "message": "operation finished without rawData"},
                created_at=created_at,
            )
        try:
            decoded = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            return OperationResult(
                done=True, error={"code": "bad_raw_data", "message": "rawData is not base64"}, created_at=created_at
            )
        return OperationResult(done=True, raw_data=decoded, created_at=created_at)

    def wait_for_operation(
        self, operation_id: str, *, requested_at: datetime | None = None, timeout: float = 900.0
    ) -> OperationResult:
        """Poll (poll_delay apart) until done or `timeout` seconds passed; returns the last look."""
        started = self.now()
        attempt = 0
        while True:
            result = self.get_operation(operation_id, requested_at=requested_at or started)
            if result.done:
                return result
            delay = poll_delay(attempt)
            if (self.now() - started).total_seconds() + delay > timeout:
                return result
            self.sleep(delay)
            attempt += 1

    # --- transport ----------------------------------------------------------
    def _call(self, method: str, url: str, body: dict | None, *, tries: int, limits) -> requests.Response:
        attempt = 0
        refreshed = False
        while True:
            attempt += 1
            for key, rate, burst in limits:
                ratelimit.acquire(key, rate, burst=burst)
            token = self.tokens.token()
            try:
                return http.request(
                    method,
                    url,
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    trusted=True,  # YANDEX_*_URL are our own settings
                    timeout=TIMEOUT,
                    retries=0,  # retried here, so every attempt goes through the limiter
                    max_bytes=MAX_RESPONSE_BYTES,
                )
            except http.TransientHttpError as exc:
                if attempt >= tries:
                    raise YandexUnavailable(f"Yandex {exc} (after {attempt} tries)", status=exc.status) from None
                delay = min(MAX_BACKOFF, BACKOFF * 2 ** (attempt - 1))
                if exc.status == 429:
                    delay = max(delay, _retry_after(exc.response))
                    ratelimit.block(SECOND_LIMIT[0], delay)  # every worker backs off, not just this one
                logger.info("Yandex %s; retrying in %.1f s", exc, delay)
                self.sleep(delay)
            except http.PermanentHttpError as exc:
                code, message = _error_detail(exc.response)
                if exc.status == 401 and not refreshed and not self.tokens.is_static:
                    refreshed = True  # a token revoked or expired early: get a new one, once
                    self.tokens.invalidate()
                    attempt -= 1
                    continue
                text = f"Yandex {exc}" + (f": {message}" if message else "")
                if exc.status == 401:
                    hint = "YANDEX_CLOUD_IAM_TOKEN expired?" if self.tokens.is_static else "the new token too"
                    raise YandexConfigError(f"{text} ({hint})", status=401, code=code) from None
                if exc.status == 403:
                    raise YandexConfigError(
                        f"{text} (does the service account have search-api.executor on the folder?)",
                        status=403,
                        code=code,
                    ) from None
                raise YandexError(text, status=exc.status, code=code) from None


def _json(response, what: str) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise YandexUnavailable(f"{what}: Yandex answered non-JSON") from None
    if not isinstance(data, dict):
        raise YandexUnavailable(f"{what}: Yandex answered a bare JSON value")
    return data


def _error_detail(response) -> tuple[object, str]:
    """Yandex's {"code", "message"} error body; (None, "") if there is none."""
    if response is None:
        return None, ""
    try:
        data = response.json()
    except ValueError:
        return None, ""
    if not isinstance(data, dict):
        return None, ""
    return data.get("code"), str(data.get("message") or "")[:300]


def _retry_after(response) -> float:
    value = response.headers.get("Retry-After", "") if response is not None else ""
    try:
        return min(MAX_RETRY_AFTER, max(0.0, float(value)))
    except ValueError:
        return 0.0
