"""A Yandex Cloud emulator (IAM + Search API v2 deferred search + operations), for tests.

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)   # in the test, never committed
    with YandexEmulator(start=datetime(2025, 3, 10, 22, tzinfo=UTC).timestamp()) as ya:
        ya.add_service_account_key("ajekey1", "ajesa1", key.public_key())
        ya.configure(settings)      # YANDEX_IAM_URL, YANDEX_SEARCH_URL, YANDEX_OPERATION_URL, folder id

What it answers, like Yandex Cloud:
- `POST /iam/v1/tokens` {"jwt": ...}: the JWT must be PS256 (PSS, MGF1-SHA256, 32-byte
  salt) signed by a registered key, with that key's id as kid, iss = its service
  account, aud = https://iam.api.cloud.yandex.net/iam/v1/tokens, exp - iat <= 3600
  and exp not past; -> {"iamToken", "expiresAt"} (RFC 3339 with nanoseconds).
  Anything else: 401 {"code": 16, "message": ...}.
- `POST /v2/web/searchAsync` with `Authorization: Bearer <token>` (a token it issued and
  not expired, or one added with add_static_token) -> an operation {"id", "done": false,
  "createdAt", ...}. A wrong folderId is 403, a malformed body 400.
- `GET /operations/<id>` (same auth): not done until `operation_delay` seconds have passed
  on the emulator's clock, then {"done": true, "response": {"@type", "rawData": base64 of
  serp_xml(query, results_per_query)}} (or of `serp(text, lr)` if given). Operations
  older than `retention` (12 h) answer 404, as Yandex does once results expire.

The clock: frozen at `start` (a Unix time) and moved only by advance(), or, without
`start`, the real time plus whatever was advanced.

Fault injection (thread-safe): fail_next_operations, no_raw_data_next, http_error_next /
http_500_next, drop_next, revoke_tokens. Inspection: requests (Counter by endpoint),
searches (request bodies), auth_headers, jwt_headers / jwt_claims (of accepted JWTs),
iam_rejections, issued (token -> expiry).
"""

import base64
import hashlib
import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.emulators.base import EmulatorServer

IAM_AUDIENCE = "https://iam.api.cloud.yandex.net/iam/v1/tokens"
DEFAULT_FOLDER = "b1gemulatorfolder"
RESPONSE_TYPE = "type.googleapis.com/yandex.cloud.searchapi.v2.WebSearchResponse"
DROP = object()

SEARCH_KEYS = {
    "query",
    "sortSpec",
    "groupSpec",
    "maxPassages",
    "region",
    "l10n",
    "folderId",
    "responseFormat",
    "userAgent",
    "metadata",
}


def rfc3339(ts: float, *, nanos: bool = False) -> str:
    dt = datetime.fromtimestamp(ts, UTC)
    if nanos:
        return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}{int(ts * 1e9) % 1000:03d}Z"
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}Z"


def serp_xml(query: str, n: int = 10, *, lr: int | None = None) -> bytes:
    """A synthetic Yandex XML answer with n results (groups of one doc), the same for the same query.

    Domains are made up from the query's hash (`<slug>-<i>.example.ru`), every other one with
    "www."; titles and passages carry <hlword> marks like Yandex's.
    """
    slug = hashlib.sha1(query.encode()).hexdigest()[:8]
    q = escape(query, quote=False)
    words = query.split()
    first = escape(words[0], quote=False) if words else ""
    groups = []
    for i in range(1, n + 1):
        host = f"{'www.' if i % 2 else ''}{slug}-{i}.example.ru"
        url = f"https://{host}/" if i % 3 else f"https://{host}/catalog/item-{i}.html?ref=yandex&amp;p={i}"
        groups.append(
            f'<group><categ attr="d" name="{host.removeprefix("www.")}"/><doccount>1</doccount><relevance/>'
            f'<doc id="D{slug}{i:03d}"><relevance/><url>{url}</url><domain>{host}</domain>'
            f"<title><hlword>{first}</hlword> компания №{i} — {q}</title>"
            f"<headline>Компания {i}: {q}</headline>"
            f"<modtime>20250301T120000</modtime><size>{1000 + i}</size><charset>utf-8</charset>"
            f"<passages><passage>Лучшая <hlword>{first}</hlword> в городе, результат {i}. Звоните!</passage></passages>"
            f"<properties><_PassagesType>0</_PassagesType><lang>ru</lang></properties>"
            f"<mime-type>text/html</mime-type><saved-copy-url>https://yandexwebcache.net/yandbtm?"
            f"fmode=inject&amp;url={host}</saved-copy-url></doc></group>"
        )
    found = n * 1000
    region = f'<region id="{lr}"/>' if lr is not None else ""
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<yandexsearch version="1.0"><request>'
        f'<query>{q}</query><page>0</page><sortby order="descending" priority="no">rlv</sortby>'
        "<maxpassages>4</maxpassages><groupings>"
        '<groupby attr="d" mode="deep" groups-on-page="100" docs-in-group="1" curcateg="-1"/>'
        f'</groupings></request><response date="20250310T220000">{region}'
        f"<reqid>1741644000000000-{slug}</reqid>"
        f'<found priority="phrase">{found}</found><found priority="strict">{found}</found>'
        f'<found priority="all">{found}</found><found-human>Нашлось {found} результатов</found-human>'
        '<results><grouping attr="d" mode="deep" groups-on-page="100" docs-in-group="1" curcateg="-1">'
        f'<found priority="phrase">{n}</found><found priority="strict">{n}</found><found priority="all">{n}</found>'
        f'<found-docs priority="phrase">{found}</found-docs>'
        f"<found-docs-human>нашлось {found} ответов</found-docs-human>"
        f'<page first="1" last="{n}">0</page>' + "".join(groups) + "</grouping></results></response></yandexsearch>"
    )
    return xml.encode("utf-8")


@dataclass
class _Key:
    key_id: str
    service_account_id: str
    public_key: rsa.RSAPublicKey


@dataclass
class _Operation:
    id: str
    text: str
    lr: int
    created: float
    ready_at: float
    created_by: str
    fault: tuple | None = None  # ("error", code, message) | ("no_raw_data",)


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


class _JwtRejected(Exception):
    pass


class YandexEmulator(EmulatorServer):
    thread_name = "yandex-emulator"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        start: float | None = None,
        folder_id: str = DEFAULT_FOLDER,
        operation_delay: float = 0.0,
        results_per_query: int = 10,
        iam_ttl: float = 12 * 3600,
        retention: float = 12 * 3600,
        serp: Callable[[str, int], bytes | str] | None = None,
    ):
        self.host, self.port = host, port
        self.folder_id = folder_id
        self.operation_delay = operation_delay
        self.results_per_query = results_per_query
        self.iam_ttl = iam_ttl
        self.retention = retention
        self.serp = serp
        self._frozen = start
        self._offset = 0.0
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.keys: dict[str, _Key] = {}
        self.static_tokens: set[str] = set()
        self.issued: dict[str, float] = {}  # token -> expiry (emulator time)
        self.operations: dict[str, _Operation] = {}
        self.requests: Counter[str] = Counter()  # "iam" | "search" | "operation", refused ones too
        self.searches: list[dict] = []  # accepted searchAsync bodies
        self.auth_headers: list[str] = []
        self.jwt_headers: list[dict] = []
        self.jwt_claims: list[dict] = []
        self.iam_rejections: list[str] = []
        self._faults: list[list] = []  # [endpoint or None, times, status or DROP]
        self._op_faults: list[tuple] = []

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def iam_url(self) -> str:
        return f"{self.base_url}/iam/v1/tokens"

    @property
    def search_url(self) -> str:
        return f"{self.base_url}/v2/web/searchAsync"

    @property
    def operation_url(self) -> str:
        return f"{self.base_url}/operations/"

    def configure(self, settings) -> None:
        """Point the project's YANDEX_* settings (pytest-django's `settings`) here."""
        settings.YANDEX_IAM_URL = self.iam_url
        settings.YANDEX_SEARCH_URL = self.search_url
        settings.YANDEX_OPERATION_URL = self.operation_url
        settings.YANDEX_CLOUD_FOLDER_ID = self.folder_id

    # --- clock -------------------------------------------------------------
    def now(self) -> float:
        with self._lock:
            return (self._frozen if self._frozen is not None else time.time()) + self._offset

    def now_dt(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    # --- the world ---------------------------------------------------------
    def add_service_account_key(self, key_id: str, service_account_id: str, public_key: rsa.RSAPublicKey) -> None:
        with self._lock:
            self.keys[key_id] = _Key(key_id, service_account_id, public_key)

    def add_static_token(self, token: str) -> None:
        with self._lock:
            self.static_tokens.add(token)

    def revoke_tokens(self) -> None:
        """Every issued IAM token stops working (a new exchange gets a good one)."""
        with self._lock:
            self.issued.clear()

    # --- fault injection ---------------------------------------------------
    def http_error_next(self, status: int = 500, times: int = 1, endpoint: str | None = None) -> None:
        """The next `times` requests (to `endpoint`: "iam" | "search" | "operation", None: any) answer `status`."""
        with self._lock:
            self._faults.append([endpoint, times, status])

    def http_500_next(self, times: int = 1, endpoint: str | None = None) -> None:
        self.http_error_next(500, times, endpoint)

    def drop_next(self, times: int = 1, endpoint: str | None = None) -> None:
        """The next `times` requests are read, then the connection is closed without an answer."""
        with self._lock:
            self._faults.append([endpoint, times, DROP])

    def fail_next_operations(self, times: int = 1, *, code: int = 13, message: str = "Internal error") -> None:
        """The next `times` operations created finish with {"error": {"code", "message"}}."""
        with self._lock:
            self._op_faults.extend([("error", code, message)] * times)

    def no_raw_data_next(self, times: int = 1) -> None:
        """The next `times` operations created finish with a response that has no rawData."""
        with self._lock:
            self._op_faults.extend([("no_raw_data",)] * times)

    # --- HTTP --------------------------------------------------------------
    def handle(self, method: str, path: str, headers, body: bytes):
        if method == "POST" and path == "/iam/v1/tokens":
            endpoint = "iam"
        elif method == "POST" and path == "/v2/web/searchAsync":
            endpoint = "search"
        elif method == "GET" and path.startswith("/operations/"):
            endpoint = "operation"
        else:
            return 404, {"code": 5, "message": "Not found"}
        with self._lock:
            self.requests[endpoint] += 1
            for fault in self._faults:
                if fault[0] in (None, endpoint):
                    fault[1] -= 1
                    if fault[1] <= 0:
                        self._faults.remove(fault)
                    if fault[2] is DROP:
                        return DROP
                    return fault[2], {"code": 14, "message": "Service unavailable"}
            if endpoint == "iam":
                return self._iam(body)
            auth = headers.get("Authorization", "")
            self.auth_headers.append(auth)
            if not self._authorized(auth):
                return 401, {"code": 16, "message": "The token is invalid"}
            if endpoint == "search":
                return self._search(body)
            return self._operation(unquote(path[len("/operations/") :]))

    def _authorized(self, header: str) -> bool:
        if not header.startswith("Bearer "):
            return False
        token = header[len("Bearer ") :]
        if token in self.static_tokens:
            return True
        expiry = self.issued.get(token)
        return expiry is not None and expiry > self.now()

    def _iam(self, body: bytes):
        try:
            payload = json.loads(body)
            token = payload["jwt"]
            key, claims = self._verify_jwt(token)
        except _JwtRejected as exc:
            self.iam_rejections.append(str(exc))
            return 401, {"code": 16, "message": f"Failed to authenticate: {exc}"}
        except (ValueError, KeyError, TypeError):
            self.iam_rejections.append("malformed request")
            return 400, {"code": 3, "message": "Illegal argument jwt"}
        now = self.now()
        iam_token = f"t1.emulated.{next(self._ids):06d}.{hashlib.sha1(token.encode()).hexdigest()[:16]}"
        self.issued[iam_token] = now + self.iam_ttl
        return 200, {"iamToken": iam_token, "expiresAt": rfc3339(now + self.iam_ttl, nanos=True)}

    def _verify_jwt(self, token: str) -> tuple[_Key, dict]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 3:
            raise _JwtRejected("not a JWT")
        try:
            header = json.loads(_b64url_decode(parts[0]))
            claims = json.loads(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except ValueError:
            raise _JwtRejected("undecodable JWT") from None
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise _JwtRejected("undecodable JWT")
        if header.get("alg") != "PS256":
            raise _JwtRejected(f"alg {header.get('alg')!r} is not PS256")
        key = self.keys.get(header.get("kid"))
        if key is None:
            raise _JwtRejected("unknown kid")
        try:
            key.public_key.verify(
                signature,
                f"{parts[0]}.{parts[1]}".encode("ascii"),
                padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise _JwtRejected("bad signature") from None
        if claims.get("iss") != key.service_account_id:
            raise _JwtRejected("iss is not the key's service account")
        aud = claims.get("aud")
        if aud != IAM_AUDIENCE and not (isinstance(aud, list) and IAM_AUDIENCE in aud):
            raise _JwtRejected("wrong aud")
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            raise _JwtRejected("iat / exp missing")
        if exp - iat > 3600 or exp <= iat:
            raise _JwtRejected("exp - iat must be 1..3600 s")
        now = self.now()
        if exp <= now:
            raise _JwtRejected("JWT expired")
        if iat > now + 300:
            raise _JwtRejected("iat in the future")
        self.jwt_headers.append(header)
        self.jwt_claims.append(claims)
        return key, claims

    def _search(self, body: bytes):
        try:
            data = json.loads(body)
        except ValueError:
            return 400, {"code": 3, "message": "invalid JSON"}
        problem = self._search_problem(data)
        if problem:
            return 400, {"code": 3, "message": problem}
        if data["folderId"] != self.folder_id:
            return 403, {"code": 7, "message": "Permission denied"}
        self.searches.append(data)
        now = self.now()
        fault = self._op_faults.pop(0) if self._op_faults else None
        op = _Operation(
            id=f"spr{next(self._ids):017d}",
            text=data["query"]["queryText"],
            lr=int(data.get("region") or 225),
            created=now,
            ready_at=now + self.operation_delay,
            created_by="ajeemulatedsa",
            fault=fault,
        )
        self.operations[op.id] = op
        return 200, self._op_json(op, now)

    @staticmethod
    def _search_problem(data) -> str:
        if not isinstance(data, dict):
            return "body is not an object"
        unknown = set(data) - SEARCH_KEYS
        if unknown:
            return f"unknown fields {sorted(unknown)}"
        query = data.get("query")
        if not isinstance(query, dict) or not str(query.get("queryText") or "").strip():
            return "query.queryText is required"
        if not data.get("folderId"):
            return "folderId is required"
        if "region" in data and not str(data["region"]).isdigit():
            return "region must be a number"
        if data.get("responseFormat", "FORMAT_XML") not in ("FORMAT_XML", "FORMAT_HTML"):
            return "bad responseFormat"
        return ""

    def _operation(self, op_id: str):
        op = self.operations.get(op_id)
        now = self.now()
        if op is None or now - op.created > self.retention:
            return 404, {"code": 5, "message": f"Operation {op_id} not found"}
        return 200, self._op_json(op, now)

    def _op_json(self, op: _Operation, now: float) -> dict:
        out = {
            "id": op.id,
            "description": "WEB search async",
            "createdAt": rfc3339(op.created),
            "createdBy": op.created_by,
            "modifiedAt": rfc3339(min(now, max(op.created, op.ready_at))),
            "done": False,
        }
        if now < op.ready_at:
            return out
        out["done"] = True
        if op.fault and op.fault[0] == "error":
            out["error"] = {"code": op.fault[1], "message": op.fault[2], "details": []}
        elif op.fault and op.fault[0] == "no_raw_data":
            out["response"] = {"@type": RESPONSE_TYPE}
        else:
            xml = self.serp(op.text, op.lr) if self.serp else serp_xml(op.text, self.results_per_query, lr=op.lr)
            if isinstance(xml, str):
                xml = xml.encode("utf-8")
            out["response"] = {"@type": RESPONSE_TYPE, "rawData": base64.b64encode(xml).decode("ascii")}
        return out

    # --- inspection --------------------------------------------------------
    def operation(self, op_id: str) -> _Operation | None:
        with self._lock:
            return self.operations.get(op_id)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    server_version = "yandex-emulator"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # quiet: headers carry bearer tokens

    def do_GET(self):
        self._handle("GET", b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self._handle("POST", self.rfile.read(length) if length else b"")

    def _handle(self, method: str, body: bytes):
        outcome = self.server.emulator.handle(method, urlsplit(self.path).path, self.headers, body)
        if outcome is DROP:
            self.close_connection = True
            return
        status, payload = outcome
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


YandexEmulator.handler_class = _Handler
