"""A VK API emulator: a real HTTP server speaking VK's wire format, for tests and benchmarks.

    with VkEmulator() as vk:
        vk.add_token("user-secret-1", kind="user")
        vk.add_group(1, "Big community", members=1_000_000, screen_name="big")
        settings.VK_API_URL = vk.url          # http://127.0.0.1:PORT/method/

What it answers, like VK (API version 5.199):
- `POST|GET /method/<name>` with form params (`access_token`, `v`, the method's own);
  `{"response": ...}` or `{"error": {"error_code", "error_msg", "request_params"}}` with
  HTTP 200 (the access_token is never echoed back in request_params).
- `groups.getById` (new shape `{"groups": [...], "profiles": []}`, or the old bare list
  with `old_shapes=True`), `groups.getMembers` (`{"count", "items"}`; id_asc, id_desc,
  time_asc, time_desc; `fields` turns items into user objects), `users.get`, and
  `execute`: the code runs in quickjs with `API.<ns>.<method>(params)` bound to the
  same Python implementations. A failing call inside returns `false` and is listed in
  the top-level `execute_errors`; more than 25 calls, or a result over
  `execute_max_bytes` (5 MB), is error 13.
- Per-token requests per second (user and service 3, community 20): one more
  within any sliding second is error 6. Refused requests do not count.
- More methods for later phases: `register_method("wall.get", fn)`, where
  `fn(params: dict[str, str], token: TokenSpec)` returns the response or raises VkError.

VKScript is not quite JavaScript. The code is run as the body of a function (so a
top-level `return` works) with two rewrites: `expr@.field` (VK's "pluck") and array
concatenation written `a = a + b;` / `a += b;` as whole statements. Code that sticks to
var, while, if, push, .length, object and array literals runs the same in both.

Fault injection (all thread-safe): fail_next, http_500_next, drop_next, short_page_next,
fault_rate, fail_members_beyond, members_change, during_fetch. Every person here is
synthetic: names come from short lists of common names, seeded by the user id.
"""

import bisect
import heapq
import json
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import quickjs

from telegram_sources.fake_world import CYRILLIC_FIRST, CYRILLIC_LAST, LATIN_FIRST, LATIN_LAST
from tests.emulators.base import EmulatorServer

MAX_EXECUTE_CALLS = 25
EXECUTE_MAX_BYTES = 5 * 1024 * 1024
RPS = {"user": 3, "service": 3, "community": 20}
BASE_TIME = 1_700_000_000  # last_seen etc. are deterministic, not wall-clock

MESSAGES = {
    1: "Unknown error occurred",
    3: "Unknown method passed",
    5: "User authorization failed: invalid access_token (4).",
    6: "Too many requests per second",
    8: "Invalid request: v (version) is required",
    9: "Flood control",
    10: "Internal server error",
    12: "Unable to compile code",
    13: "Runtime error occurred during code invocation",
    14: "Captcha needed",
    15: "Access denied",
    18: "User was deleted or banned",
    27: "Group authorization failed: method is unavailable with group auth.",
    28: "Application authorization failed: method is unavailable with service token.",
    29: "Rate limit reached",
    30: "This profile is private",
    100: "One of the parameters specified was missing or invalid",
    113: "Invalid user id",
    125: "Invalid group id",
    203: "Access to group denied",
}

DROP = object()  # close the connection without an answer


class VkError(Exception):
    def __init__(self, code: int, msg: str | None = None, **extra):
        self.code = code
        self.msg = msg or MESSAGES.get(code, "Unknown error occurred")
        self.extra = extra  # e.g. captcha_sid / captcha_img
        super().__init__(f"{code}: {self.msg}")


@dataclass
class TokenSpec:
    kind: str = "user"  # user | community | service
    label: str = ""
    admin: dict[int, int] = field(default_factory=dict)  # group id -> admin level (1 moderator .. 3 administrator)
    group_id: int | None = None  # a community token's own group
    invalid: bool = False
    rps: int | None = None  # None: VK's limit for the kind

    @property
    def rate(self) -> int:
        return self.rps if self.rps is not None else RPS[self.kind]


@dataclass
class GroupSpec:
    id: int
    name: str
    screen_name: str
    members: list[int] = field(default_factory=list)  # sorted ascending, no duplicates
    type: str = "group"
    is_closed: int = 0
    hide_members: bool = False  # getMembers: error 15 unless the token is an admin here
    joined: list[int] = field(default_factory=list)  # joined via members_change, in order (for time_* sorts)
    _time_order: list[int] | None = field(default=None, repr=False)

    def time_order(self) -> list[int]:
        if self._time_order is None:
            late = set(self.joined)
            self._time_order = [m for m in self.members if m not in late] + self.joined
        return self._time_order


@dataclass
class _Rule:
    code: int
    times: int
    token: str | None
    method: str | None
    msg: str | None


def synthetic_members(count: int, first_id: int = 100_000) -> list[int]:
    """`count` ascending ids with uneven gaps, fast enough for millions."""
    return [first_id + 7 * i + (i * i) % 5 for i in range(count)]


def synthetic_profile(user_id: int) -> dict:
    """A made-up VK user, the same every time for the same id: every field VK can return."""
    rng = random.Random(user_id)
    if user_id % 97 == 0:
        return {"id": user_id, "first_name": "DELETED", "last_name": "", "deactivated": "deleted"}
    cyrillic = rng.random() < 0.6
    first = rng.choice(CYRILLIC_FIRST if cyrillic else LATIN_FIRST)
    last = rng.choice(CYRILLIC_LAST if cyrillic else LATIN_LAST)
    closed = rng.random() < 0.2
    profile = {
        "id": user_id,
        "first_name": first,
        "last_name": last,
        "can_access_closed": not closed,
        "is_closed": closed,
        "sex": rng.choice([0, 1, 2, 2, 1]),
        "domain": f"id{user_id}" if rng.random() < 0.6 else f"{rng.choice(LATIN_FIRST).lower()}{user_id % 100000}",
        "has_mobile": int(rng.random() < 0.7),
        "photo_50": f"https://vk.example/photo/{user_id}_50.jpg",
        "photo_100": f"https://vk.example/photo/{user_id}_100.jpg",
        "photo_200": f"https://vk.example/photo/{user_id}_200.jpg",
        "last_seen": {"time": BASE_TIME - rng.randrange(0, 90 * 86400), "platform": rng.choice([1, 2, 4, 7])},
    }
    if rng.random() < 0.5:
        profile["bdate"] = f"{rng.randint(1, 28)}.{rng.randint(1, 12)}" + (
            f".{rng.randint(1960, 2008)}" if rng.random() < 0.5 else ""
        )
    if rng.random() < 0.7:
        profile["city"] = rng.choice([{"id": 1, "title": "Москва"}, {"id": 2, "title": "Санкт-Петербург"}])
        profile["country"] = {"id": 1, "title": "Россия"}
    if user_id % 89 == 0:
        return {"id": user_id, "first_name": first, "last_name": last, "deactivated": "banned"}
    return profile


_BASIC_USER_FIELDS = ("id", "first_name", "last_name", "can_access_closed", "is_closed", "deactivated")


def _user_object(profile: dict, fields: set[str]) -> dict:
    out = {k: profile[k] for k in _BASIC_USER_FIELDS if k in profile}
    if "deactivated" in profile:
        return out
    for name in fields:
        if name == "photo_max":
            out[name] = profile.get("photo_200")
        elif name in profile:
            out[name] = profile[name]
    return out


def _param_str(value: Any) -> str | None:
    """A JS value passed to API.* as VK would see it on the wire."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return ",".join(s for s in (_param_str(v) for v in value) if s is not None)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _int(params: dict, name: str, default: int | None = None) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise VkError(100, f"One of the parameters specified was missing or invalid: {name} is undefined")
        return default
    try:
        return int(raw)
    except ValueError:
        raise VkError(100, f"One of the parameters specified was missing or invalid: {name} not integer") from None


def _vkscript_to_js(code: str) -> str:
    """VKScript's array `+` (as a whole statement) and `@.` pluck, in plain JavaScript."""
    code = re.sub(
        r"(^|[;{}\s])([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*=\s*\2\s*\+\s*([^;]+);",
        r"\1\2 = __vk_plus(\2, \3);",
        code,
    )
    code = re.sub(r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*\+=\s*([^;]+);", r"\1 = __vk_plus(\1, \2);", code)
    return re.sub(r"@\.([A-Za-z_$][\w$]*)", r".map(function (__x) { return __x.\1 })", code)


_PRELUDE = """
var API = {};
(function (names) {
  for (var i = 0; i < names.length; i++) {
    (function (name) {
      var dot = name.indexOf(".");
      var ns = name.substring(0, dot);
      if (!API[ns]) API[ns] = {};
      API[ns][name.substring(dot + 1)] = function (p) {
        return JSON.parse(__call(name, JSON.stringify(p === undefined ? {} : p)));
      };
    })(names[i]);
  }
})(%(names)s);
var Args = %(args)s;
function __vk_plus(a, b) {
  if (Array.isArray(a)) return a.concat(b);
  return a + b;
}
"""


class _ExecuteState:
    def __init__(self):
        self.calls = 0
        self.too_many = False
        self.errors: list[dict] = []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"  # one answer per connection; a dropped one is just closed
    server_version = "vk-emulator"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # quiet: request lines would carry query-string tokens

    def do_GET(self):
        self._handle(b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self._handle(self.rfile.read(length) if length else b"")

    def _handle(self, body: bytes):
        parts = urlsplit(self.path)
        if not parts.path.startswith("/method/"):
            self._reply(404, b"not found", "text/plain")
            return
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        outcome = self.server.emulator.handle_http(
            parts.path[len("/method/") :], {**query, **form}, token_in_query="access_token" in query
        )
        if outcome is DROP:
            self.close_connection = True
            return
        status, payload = outcome
        self._reply(status, payload, "application/json; charset=utf-8" if status == 200 else "text/html")

    def _reply(self, status: int, body: bytes, content_type: str):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class VkEmulator(EmulatorServer):
    thread_name = "vk-emulator"
    handler_class = _Handler

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        old_shapes: bool = False,
        execute_max_bytes: int = EXECUTE_MAX_BYTES,
        max_execute_calls: int = MAX_EXECUTE_CALLS,
    ):
        self.host, self.port = host, port
        self.old_shapes = old_shapes
        self.execute_max_bytes = execute_max_bytes
        self.max_execute_calls = max_execute_calls
        self.tokens: dict[str, TokenSpec] = {}
        self.groups: dict[int, GroupSpec] = {}
        self.users: dict[int, dict] = {}  # explicit profiles; any other id gets synthetic_profile(id)
        self.methods: dict[str, Callable[[dict, TokenSpec], Any]] = {
            "groups.getById": self._groups_get_by_id,
            "groups.getMembers": self._groups_get_members,
            "users.get": self._users_get,
        }
        # Counters. requests: HTTP requests by method (refused ones too); calls: method runs, top-level
        # or inside execute; subcalls: only those inside execute; executes: execute codes that ran.
        self.requests: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.subcalls: Counter[str] = Counter()
        self.executes = 0
        self.timestamps: dict[str, list[float]] = {}  # token -> time.monotonic() of each admitted request
        self.answered: list[tuple[str, str, int]] = []  # (token label, method, error code), top-level and inside
        self.tokens_in_query = 0  # requests that carried access_token in the URL query
        self._lock = threading.RLock()
        self._rules: list[_Rule] = []
        self._drops = 0
        self._http500 = 0
        self._short_pages = 0
        self._fault_p = 0.0
        self._fault_codes: tuple = ()
        self._fault_rng = random.Random(0)
        self._beyond: tuple[float, int | None] | None = None
        self._hooks: list[list] = []  # [getMembers calls to go, callback]
        self._due: list[Callable] = []

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/method/"

    # --- the world ---------------------------------------------------------
    def add_token(
        self,
        secret: str,
        kind: str = "user",
        *,
        label: str | None = None,
        admin: dict[int, int] | None = None,
        group_id: int | None = None,
        rps: int | None = None,
    ) -> TokenSpec:
        if kind not in RPS:
            raise ValueError(f"kind must be one of {sorted(RPS)}")
        admin = dict(admin or {})
        if kind == "community" and group_id is not None:
            admin.setdefault(group_id, 3)
        label = label or f"{kind}-{len(self.tokens) + 1}"
        spec = TokenSpec(kind=kind, label=label, admin=admin, group_id=group_id, rps=rps)
        with self._lock:
            self.tokens[secret] = spec
        return spec

    def add_group(
        self,
        group_id: int,
        name: str | None = None,
        *,
        screen_name: str | None = None,
        members: int | Iterable[int] = 0,
        **options,
    ) -> GroupSpec:
        ids = synthetic_members(members) if isinstance(members, int) else sorted(set(members))
        group = GroupSpec(
            id=group_id,
            name=name or f"Community {group_id}",
            screen_name=screen_name or f"club{group_id}",
            members=ids,
            **options,
        )
        with self._lock:
            self.groups[group_id] = group
        return group

    def members_change(self, group_id: int | None = None, *, join: Iterable[int] = (), leave: Iterable[int] = ()):
        """People join / leave a group (between syncs, or from a during_fetch hook)."""
        with self._lock:
            group = self._only_group(group_id)
            gone = set(leave)
            if gone:
                group.members = [m for m in group.members if m not in gone]
                group.joined = [m for m in group.joined if m not in gone]
            present = set(group.members) if join else set()
            new = sorted({j for j in join if j not in present})
            if len(new) < 64:
                for member in new:
                    bisect.insort(group.members, member)
            elif new:
                group.members = list(heapq.merge(group.members, new))
            group.joined.extend(new)
            group._time_order = None

    def _only_group(self, group_id: int | None) -> GroupSpec:
        if group_id is None:
            if len(self.groups) != 1:
                raise ValueError("say which group: the emulator has more than one")
            return next(iter(self.groups.values()))
        return self.groups[group_id]

    def register_method(self, name: str, fn: Callable[[dict, TokenSpec], Any]) -> None:
        """Another method, callable over HTTP and inside execute: fn(params, token) -> response."""
        with self._lock:
            self.methods[name] = fn

    # --- fault injection ---------------------------------------------------
    def fail_next(
        self, token: str | None = None, method: str | None = None, *, code: int, times: int = 1, msg: str | None = None
    ) -> None:
        """The next `times` matching calls answer VK error `code`.

        method=None matches any top-level request (execute included); a method name matches
        that method at the top level and inside execute (there it lands in execute_errors).
        Error 5 also makes the token invalid for good, as at VK.
        """
        with self._lock:
            self._rules.append(_Rule(code=code, times=times, token=token, method=method, msg=msg))

    def http_500_next(self, times: int = 1) -> None:
        with self._lock:
            self._http500 += times

    def drop_next(self, times: int = 1) -> None:
        """The next `times` requests are read, then the connection is closed without an answer."""
        with self._lock:
            self._drops += times

    def short_page_next(self, times: int = 1) -> None:
        """The next `times` groups.getMembers answer only the first half of their page (count unchanged)."""
        with self._lock:
            self._short_pages += times

    def fault_rate(self, p: float, codes: Iterable[int | str] = (6, 9, 29), seed: int = 0) -> None:
        """A fraction p of top-level requests fails with a random pick of `codes`.

        Codes are VK error codes, or "http500" / "drop". p=0 turns it off.
        """
        with self._lock:
            self._fault_p = p
            self._fault_codes = tuple(codes)
            self._fault_rng = random.Random(seed)

    def fail_members_beyond(self, fraction: float | None, *, code: int | None = 15) -> None:
        """Only the first `fraction` of a member list can be fetched (0.94: 94 %); None turns it off.

        A groups.getMembers page starting at or beyond the cutoff answers error `code` (None:
        empty items); a page across it comes back short. `count` stays the full size.
        """
        with self._lock:
            self._beyond = None if fraction is None else (fraction, code)

    def during_fetch(self, callback: Callable[["VkEmulator"], None], *, after: int = 1) -> None:
        """Call callback(emulator) once, right after the `after`-th groups.getMembers from now."""
        with self._lock:
            self._hooks.append([after, callback])

    # --- inspection --------------------------------------------------------
    def errors_answered(self, code: int) -> int:
        with self._lock:
            return sum(1 for _, _, c in self.answered if c == code)

    def max_requests_per_second(self, token: str) -> int:
        """The most admitted requests of `token` within any 1-second window."""
        with self._lock:
            stamps = list(self.timestamps.get(token, []))
        best = 0
        for i, start in enumerate(stamps):
            best = max(best, bisect.bisect_left(stamps, start + 1.0) - i)
        return best

    # --- HTTP --------------------------------------------------------------
    def handle_http(self, name: str, params: dict[str, str], *, token_in_query: bool = False):
        try:
            return self._handle(name, params, token_in_query)
        finally:
            self._run_due_hooks()

    def _handle(self, name, params, token_in_query):
        secret = params.get("access_token")
        fault = None
        with self._lock:
            self.requests[name] += 1
            self.tokens_in_query += token_in_query
            if self._drops:
                self._drops -= 1
                return DROP
            if self._http500:
                self._http500 -= 1
                return 500, b"<html><body>500 Internal Server Error</body></html>"
            if self._fault_p and self._fault_rng.random() < self._fault_p:
                fault = self._fault_rng.choice(self._fault_codes)
                if fault == "drop":
                    return DROP
                if fault in ("http500", 500):
                    return 500, b"<html><body>500 Internal Server Error</body></html>"
            spec = self.tokens.get(secret) if secret else None
            try:
                if not secret:
                    raise VkError(5, "User authorization failed: no access_token passed.")
                if spec is None or spec.invalid:
                    raise VkError(5)
                if not params.get("v"):
                    raise VkError(8)
                now = time.monotonic()
                stamps = self.timestamps.setdefault(secret, [])
                if len(stamps) - bisect.bisect_right(stamps, now - 1.0) >= spec.rate:
                    raise VkError(6)
                stamps.append(now)
                if fault is not None:
                    raise self._error(int(fault), None, secret, spec)
                self._apply_rules(name, secret, spec, top_level=True)
                if name != "execute":
                    if name not in self.methods:
                        raise VkError(3)
                    self.calls[name] += 1
                    return 200, self._ok({"response": self.methods[name](params, spec)})
            except VkError as exc:
                self.answered.append((spec.label if spec else "?", name, exc.code))
                return 200, self._error_body(exc, name, params)
        # execute runs outside the lock: its API calls take it one at a time.
        try:
            return 200, self._execute(params, secret, spec)
        except VkError as exc:
            with self._lock:
                self.answered.append((spec.label, name, exc.code))
            return 200, self._error_body(exc, name, params)

    def _apply_rules(self, name: str, secret: str, spec: TokenSpec, *, top_level: bool) -> None:
        for rule in self._rules:
            if rule.token is not None and rule.token != secret:
                continue
            if (rule.method is None and not top_level) or (rule.method is not None and rule.method != name):
                continue
            rule.times -= 1
            if rule.times <= 0:
                self._rules.remove(rule)
            raise self._error(rule.code, rule.msg, secret, spec)

    def _error(self, code: int, msg: str | None, secret: str, spec: TokenSpec) -> VkError:
        if code == 5:
            spec.invalid = True
        if code == 14:
            sid = str(random.Random(f"{secret}{time.monotonic()}").randrange(10**11, 10**12))
            return VkError(14, msg, captcha_sid=sid, captcha_img=f"https://api.vk.example/captcha.php?sid={sid}")
        return VkError(code, msg)

    @staticmethod
    def _ok(payload: dict) -> bytes:
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()

    def _error_body(self, exc: VkError, name: str, params: dict) -> bytes:
        echoed = [{"key": "method", "value": name}, {"key": "oauth", "value": "1"}]
        echoed += [{"key": k, "value": v} for k, v in params.items() if k != "access_token"]
        error = {"error_code": exc.code, "error_msg": exc.msg, "request_params": echoed, **exc.extra}
        return self._ok({"error": error})

    def _run_due_hooks(self) -> None:
        with self._lock:
            due, self._due = self._due, []
        for callback in due:
            callback(self)

    # --- execute -----------------------------------------------------------
    def _execute(self, params: dict, secret: str, spec: TokenSpec) -> bytes:
        code = params.get("code")
        if not code:
            raise VkError(100, "One of the parameters specified was missing or invalid: code is undefined")
        args = {k: v for k, v in params.items() if k not in ("code", "access_token", "v", "lang", "method")}
        state = _ExecuteState()
        with self._lock:
            self.executes += 1
            names = sorted(self.methods)

        def bridge(method: str, params_json: str) -> str:
            state.calls += 1
            if state.calls > self.max_execute_calls:
                state.too_many = True
                raise RuntimeError("too many API calls")
            try:
                result = self._subcall(method, json.loads(params_json), secret, spec)
            except VkError as exc:
                with self._lock:
                    self.answered.append((spec.label, method, exc.code))
                state.errors.append({"method": method, "error_code": exc.code, "error_msg": exc.msg})
                return "false"
            finally:
                self._run_due_hooks()
            return json.dumps(result, ensure_ascii=False)

        ctx = quickjs.Context()
        ctx.set_memory_limit(512 * 1024 * 1024)
        ctx.add_callable("__call", bridge)
        ctx.eval(_PRELUDE % {"names": json.dumps(names), "args": json.dumps(args, ensure_ascii=False)})
        program = "JSON.stringify((function () {\n" + _vkscript_to_js(code) + "\n})())"
        try:
            result = ctx.eval(program)
        except quickjs.JSException as exc:
            if state.too_many:
                raise VkError(13, "Runtime error occurred during code invocation: Too many API calls") from None
            text = str(exc).splitlines()[0] if str(exc) else "error"
            if text.startswith("SyntaxError"):
                raise VkError(12, f"Unable to compile code: {text}") from None
            raise VkError(13, f"Runtime error occurred during code invocation: {text}") from None
        finally:
            del ctx
        result = "null" if result is None else result
        if len(result.encode()) > self.execute_max_bytes:
            raise VkError(13, "Runtime error occurred during code invocation: Response size is too big")
        body = '{"response":' + result
        if state.errors:
            body += ',"execute_errors":' + json.dumps(state.errors, ensure_ascii=False, separators=(",", ":"))
        return (body + "}").encode()

    def _subcall(self, method: str, raw: Any, secret: str, spec: TokenSpec) -> Any:
        params = {}
        if isinstance(raw, dict):
            params = {k: s for k, v in raw.items() if (s := _param_str(v)) is not None}
        with self._lock:
            self.subcalls[method] += 1
            self._apply_rules(method, secret, spec, top_level=False)
            if method not in self.methods:
                raise VkError(3)
            self.calls[method] += 1
            return self.methods[method](params, spec)

    # --- methods (called with the lock held) --------------------------------
    def _find_group(self, ref: str) -> GroupSpec | None:
        ref = ref.strip()
        match = re.fullmatch(r"(?:club|public|event)?(-?\d+)", ref)
        if match:
            return self.groups.get(abs(int(match.group(1))))
        ref = ref.lower()
        return next((g for g in self.groups.values() if g.screen_name.lower() == ref), None)

    def _groups_get_by_id(self, params: dict, token: TokenSpec):
        refs = [r for r in (params.get("group_ids", "") + "," + params.get("group_id", "")).split(",") if r.strip()]
        if not refs:
            if token.kind != "community" or token.group_id is None:
                raise VkError(100, "One of the parameters specified was missing or invalid: group_ids is undefined")
            refs = [str(token.group_id)]
        fields = set(filter(None, params.get("fields", "").split(",")))
        found = [g for g in (self._find_group(r) for r in refs) if g is not None]
        if not found:
            raise VkError(100, "One of the parameters specified was missing or invalid: group_ids is undefined")
        groups = []
        for group in found:
            level = token.admin.get(group.id, 0)
            item = {
                "id": group.id,
                "name": group.name,
                "screen_name": group.screen_name,
                "is_closed": group.is_closed,
                "type": group.type,
                "is_admin": int(level > 0),
                "is_member": 0,
                "is_advertiser": 0,
                "photo_50": f"https://vk.example/group/{group.id}_50.jpg",
                "photo_100": f"https://vk.example/group/{group.id}_100.jpg",
                "photo_200": f"https://vk.example/group/{group.id}_200.jpg",
            }
            if level:
                item["admin_level"] = level
            if "members_count" in fields:
                item["members_count"] = len(group.members)
            groups.append(item)
        return groups if self.old_shapes else {"groups": groups, "profiles": []}

    def _groups_get_members(self, params: dict, token: TokenSpec):
        group = self._find_group(params.get("group_id", ""))
        if group is None:
            raise VkError(100, "One of the parameters specified was missing or invalid: group_id is undefined")
        if group.hide_members and not token.admin.get(group.id):
            raise VkError(15, "Access denied: group hide members")
        offset = max(0, _int(params, "offset", 0))
        count = min(1000, max(0, _int(params, "count", 1000)))
        sort = params.get("sort", "id_asc")
        members = group.time_order() if sort.startswith("time") else group.members
        total = len(members)
        self._fetch_hooks()
        end = offset + count
        if self._beyond is not None and count:
            cutoff = int(self._beyond[0] * total)
            if offset >= cutoff:
                if self._beyond[1] is not None:
                    raise VkError(self._beyond[1])
                return {"count": total, "items": []}
            end = min(end, cutoff)  # a page across the cutoff comes back short
        if sort.endswith("desc"):
            items = members[max(0, total - end) : max(0, total - offset)][::-1]
        else:
            items = members[offset:end]
        if self._short_pages and items:
            self._short_pages -= 1
            items = items[: len(items) // 2]
        fields = set(filter(None, params.get("fields", "").split(",")))
        if fields:
            items = [_user_object(self.users.get(i) or synthetic_profile(i), fields) for i in items]
        return {"count": total, "items": items}

    def _fetch_hooks(self) -> None:
        for hook in list(self._hooks):
            hook[0] -= 1
            if hook[0] <= 0:
                self._hooks.remove(hook)
                self._due.append(hook[1])

    def _users_get(self, params: dict, token: TokenSpec):
        refs = [r.strip() for r in params.get("user_ids", params.get("user_id", "")).split(",") if r.strip()]
        if not refs:
            raise VkError(100, "One of the parameters specified was missing or invalid: user_ids is undefined")
        if len(refs) > 1000:
            raise VkError(100, "One of the parameters specified was missing or invalid: too many user_ids")
        fields = set(filter(None, params.get("fields", "").split(",")))
        out = []
        for ref in refs:
            match = re.fullmatch(r"(?:id)?(\d+)", ref)
            if not match or int(match.group(1)) <= 0:
                if len(refs) == 1:
                    raise VkError(113)
                continue
            user_id = int(match.group(1))
            out.append(_user_object(self.users.get(user_id) or synthetic_profile(user_id), fields))
        return out
