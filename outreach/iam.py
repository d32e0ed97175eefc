"""Yandex Cloud IAM tokens for the Search API.

Where the token comes from, in this order:
1. a service-account authorized key (`YANDEX_CLOUD_SA_KEY_FILE`, else
   `YANDEX_CLOUD_SA_KEY_JSON`; what `yc iam key create` writes: id,
   service_account_id, private_key). We sign a PS256 JWT (kid = key id, iss = the
   service account, aud = the IAM endpoint, exp = iat + 1 h), exchange it at
   YANDEX_IAM_URL for {"iamToken", "expiresAt"} and keep the token, per process,
   until 60 s before it expires. Keys never go stale, so they win over:
2. a static token (`YANDEX_CLOUD_IAM_TOKEN`), used as is (IAM tokens live at most
   12 h: good for a test run, not for a deployment).

The key may come with literal "\\n" for newlines (env files), with real newlines
inside the JSON string, or with yc's "PLEASE DO NOT REMOVE THIS LINE!" first line.
Anything unusable is one YandexConfigError saying what to fix; no message or log
line carries key material or a token.
"""

import base64
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.conf import settings
from django.utils import timezone

from leadops import http, ratelimit

logger = logging.getLogger(__name__)

IAM_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"  # aud is this, wherever YANDEX_IAM_URL points
JWT_LIFETIME = 3600  # seconds; IAM refuses more
REFRESH_MARGIN = timedelta(seconds=60)
DEFAULT_TOKEN_LIFETIME = timedelta(hours=1)  # if IAM's expiresAt cannot be read
IAM_TRIES = 3
IAM_BACKOFF = 1.0  # seconds, doubled per retry
TIMEOUT = (5, 20)
LIMIT_KEY, LIMIT_RATE, LIMIT_BURST = "yandex-iam", 1.0, 5


class YandexError(Exception):
    """Something the Yandex Cloud side (IAM, Search API, operations) refused or failed at."""

    def __init__(self, message: str, *, status: int | None = None, code=None):
        super().__init__(message)
        self.status = status
        self.code = code


class YandexConfigError(YandexError):
    """Our settings are unusable (key, token, folder): an operator has to fix them."""


class YandexUnavailable(YandexError):
    """Transient trouble (5xx, 429, connection) that outlasted our retries: try again later."""


@dataclass(frozen=True)
class ServiceAccountKey:
    key_id: str
    service_account_id: str
    private_key: rsa.RSAPrivateKey = field(repr=False)


def load_key(text: str, *, source: str = "service-account key") -> ServiceAccountKey:
    """Parse an authorized-key JSON; YandexConfigError (naming `source`) if it is unusable."""

    def bad(why: str) -> YandexConfigError:
        return YandexConfigError(f"{source}: {why} (expected the JSON from `yc iam key create`)")

    try:
        data = json.loads(text, strict=False)  # strict=False: real newlines inside the PEM string
    except (TypeError, ValueError):
        raise bad("not valid JSON") from None
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    values = {}
    for name in ("id", "service_account_id", "private_key"):
        value = data.get(name)
        if not isinstance(value, str) or not value.strip():
            raise bad(f"{name!r} is missing")
        values[name] = value.strip()
    pem = values["private_key"].replace("\\r", "").replace("\\n", "\n").replace("\r", "")
    start = pem.find("-----BEGIN")
    if start < 0:
        raise bad("private_key holds no PEM block")
    try:
        private_key = serialization.load_pem_private_key(pem[start:].encode(), password=None)
    except Exception:  # ValueError, TypeError (encrypted), cryptography's UnsupportedAlgorithm
        raise bad("private_key cannot be read as an unencrypted PEM private key") from None
    if not isinstance(private_key, rsa.RSAPrivateKey):
        raise bad("private_key is not an RSA key")
    return ServiceAccountKey(values["id"], values["service_account_id"], private_key)


def configured_key() -> ServiceAccountKey | None:
    """The key from settings: FILE first, then JSON; None when neither is set."""
    path = (settings.YANDEX_CLOUD_SA_KEY_FILE or "").strip()
    if path:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise YandexConfigError(f"YANDEX_CLOUD_SA_KEY_FILE: cannot read the file ({type(exc).__name__})") from None
        return load_key(text, source="YANDEX_CLOUD_SA_KEY_FILE")
    text = (settings.YANDEX_CLOUD_SA_KEY_JSON or "").strip()
    if text:
        return load_key(text, source="YANDEX_CLOUD_SA_KEY_JSON")
    return None


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64json(value: dict) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


def make_jwt(key: ServiceAccountKey, now: datetime, *, lifetime: int = JWT_LIFETIME) -> str:
    """The PS256 JWT that IAM exchanges for a token (RFC 7518 PS256: PSS, MGF1-SHA256, salt = 32 bytes)."""
    if not 0 < lifetime <= JWT_LIFETIME:
        raise ValueError(f"lifetime must be 1..{JWT_LIFETIME} s")
    iat = int(now.timestamp())
    header = {"typ": "JWT", "alg": "PS256", "kid": key.key_id}
    claims = {"iss": key.service_account_id, "aud": IAM_AUDIENCE, "iat": iat, "exp": iat + lifetime}
    signing_input = f"{_b64json(header)}.{_b64json(claims)}"
    signature = key.private_key.sign(
        signing_input.encode("ascii"),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
        hashes.SHA256(),
    )
    return f"{signing_input}.{_b64url(signature)}"


_FRACTION = re.compile(r"(\.\d{1,6})\d*")


def parse_expires_at(value) -> datetime | None:
    """IAM's RFC 3339 time, nanoseconds and all ("2025-03-11T10:00:00.123456789Z"); None if unreadable."""
    if not isinstance(value, str):
        return None
    text = _FRACTION.sub(lambda m: m.group(1), value.strip(), count=1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


# (IAM URL, key id) -> (token, expires at). Per process: workers share a token instead of
# each minting one per task.
_cache: dict[tuple[str, str], tuple[str, datetime]] = {}
_cache_lock = threading.Lock()


def reset_cache() -> None:
    with _cache_lock:
        _cache.clear()


class IamTokenSource:
    """Hands out a valid IAM token: `token()`; `invalidate()` after Yandex answered 401."""

    def __init__(self, *, now: Callable[[], datetime] = timezone.now, sleep: Callable[[float], None] = time.sleep):
        self.now = now
        self.sleep = sleep
        self._key: ServiceAccountKey | None = None
        self._loaded = False

    @property
    def key(self) -> ServiceAccountKey | None:
        if not self._loaded:
            self._key = configured_key()
            self._loaded = True
        return self._key

    @property
    def is_static(self) -> bool:
        return self.key is None

    def token(self) -> str:
        key = self.key
        if key is None:
            static = (settings.YANDEX_CLOUD_IAM_TOKEN or "").strip()
            if not static:
                raise YandexConfigError(
                    "no Yandex credentials: set YANDEX_CLOUD_SA_KEY_FILE or YANDEX_CLOUD_SA_KEY_JSON "
                    "(or YANDEX_CLOUD_IAM_TOKEN for a short test)"
                )
            return static
        cache_key = (settings.YANDEX_IAM_URL, key.key_id)
        with _cache_lock:  # held through the exchange: one refresh per process, not one per thread
            cached = _cache.get(cache_key)
            if cached is not None and self.now() < cached[1] - REFRESH_MARGIN:
                return cached[0]
            token, expires_at = self._exchange(key)
            _cache[cache_key] = (token, expires_at)
            return token

    def invalidate(self) -> None:
        key = self.key
        if key is not None:
            with _cache_lock:
                _cache.pop((settings.YANDEX_IAM_URL, key.key_id), None)

    def _exchange(self, key: ServiceAccountKey) -> tuple[str, datetime]:
        url = settings.YANDEX_IAM_URL
        tries = 0
        while True:
            tries += 1
            now = self.now()
            ratelimit.acquire(LIMIT_KEY, LIMIT_RATE, burst=LIMIT_BURST)
            try:
                response = http.post(
                    url, json={"jwt": make_jwt(key, now)}, trusted=True, timeout=TIMEOUT, retries=0
                )  # YANDEX_IAM_URL is our own setting
                break
            except http.TransientHttpError as exc:
                if tries >= IAM_TRIES:
                    raise YandexUnavailable(f"IAM token exchange: {exc}", status=exc.status) from None
                logger.info("IAM token exchange: %s; retrying", exc)
                self.sleep(IAM_BACKOFF * 2 ** (tries - 1))
            except http.PermanentHttpError as exc:
                detail = _error_message(exc.response)
                raise YandexConfigError(
                    f"IAM refused the service account key {key.key_id}: HTTP {exc.status}"
                    + (f" ({detail})" if detail else "")
                    + " - is the key revoked, or the clock off?",
                    status=exc.status,
                ) from None
        try:
            body = response.json()
            token = body["iamToken"]
        except (ValueError, KeyError, TypeError):
            raise YandexUnavailable("IAM token exchange: the answer carries no iamToken") from None
        if not isinstance(token, str) or not token:
            raise YandexUnavailable("IAM token exchange: the answer carries no iamToken")
        expires_at = parse_expires_at(body.get("expiresAt"))
        if expires_at is None:
            expires_at = now + DEFAULT_TOKEN_LIFETIME
        logger.info("IAM token for service account %s, valid until %s", key.service_account_id, expires_at)
        return token, expires_at


def _error_message(response) -> str:
    """Yandex's {"code", "message"} error body, shortened; "" if there is none."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return ""
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:300] if message else ""
