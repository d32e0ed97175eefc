"""An OpenAI API emulator: Chat Completions as the official SDK calls it, for tests and the demo.

    with OpenAIEmulator(api_key="sk-test-key") as ai:
        ai.configure(settings)            # OPENAI_BASE_URL = http://127.0.0.1:PORT/v1, OPENAI_API_KEY
        ai.fail_next(500, times=2)        # then the default answer
        draft = write_email(...)
        ai.requests[-1].body["messages"]

What it answers, like api.openai.com:
- `POST /v1/chat/completions` with `Authorization: Bearer <key>`. A missing or wrong key is
  401 {"error": {"message", "type": "invalid_request_error", "param": null, "code": "invalid_api_key"}}
  (the key shown masked, as OpenAI does). A body without `model` or `messages` is 400.
- The answer: {"id": "chatcmpl-...", "object": "chat.completion", "created", "model",
  "choices": [{"index": 0, "message": {"role": "assistant", "content": <JSON string>,
  "refusal": null, "annotations": []}, "logprobs": null, "finish_reason": "stop"}],
  "usage": {...}, "service_tier", "system_fingerprint"}.
- The default content is a deterministic email for the prompt it got: it names the company
  from the "Company name:" line, repeats the "Our offer:" line (it claims nothing else), and
  is in Russian unless the "Language:" line says a Latin-script language; it has no
  signature (the writer appends it) and passes outreach.writer.check_draft.
- Anything else: 404 in the same error shape.

Scripting (thread-safe, one FIFO queue, each step answers one authorised request):
fail_next(status, times, retry_after=, code=, message=) for 500 / 429 / 401 / 403 ...;
reply_next(content, times, finish_reason=, refusal=) for scripted contents (a dict is sent
as JSON, a str as is: invalid JSON, placeholders, the wrong language); drop_next(times)
closes the connection unanswered; delay_next(seconds) answers late (timeouts).
Inspection: `requests` (every request received: path, headers with the key masked, JSON
body, the status answered), `answered` (statuses in order).
"""

import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.emulators.base import EmulatorServer, LoopbackServer

DROP = object()
CYRILLIC_LANGUAGES = {"ru", "uk", "be", "bg", "kk", "ky", "mk", "mn", "sr", "tg"}
ERRORS = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided: {key}."),
    403: (
        "invalid_request_error",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: ("invalid_request_error", None, "Invalid URL ({method} {path})"),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for {model} on requests per min (RPM)."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    502: ("server_error", None, "Bad gateway."),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]  # names lowercased, the authorization key masked
    body: dict | None
    status: int = 0
    authorized: bool = False


@dataclass
class _Step:
    kind: str  # "status" | "content" | "drop"
    status: int = 200
    content: str = ""
    finish_reason: str = "stop"
    refusal: str | None = None
    retry_after: float | None = None
    code: str | None = None
    message: str | None = None
    delay: float = 0.0
    extra: dict = field(default_factory=dict)


def mask(key: str) -> str:
    """OpenAI's way of showing a key in an error: the start and the last four characters."""
    return f"{key[:3]}*****{key[-4:]}" if len(key) > 8 else "*****"


def prompt_facts(body: dict) -> tuple[str, str, str]:
    """(company name, language code, offer) read from the writer's user message."""
    text = "\n".join(str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict))

    def line(label: str) -> str:
        found = re.search(rf"^{label}:\s*(.+)$", text, re.MULTILINE)
        return found.group(1).strip() if found else ""

    return line("Company name"), (line("Language").split() or ["ru"])[0].lower(), line("Our offer")


def default_email(body: dict) -> dict:
    """The emulator's 'model': the same email for the same prompt, fit to send, claiming only the offer."""
    name, language, offer = prompt_facts(body)
    variant = int(hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(), 16) % 3
    if language in CYRILLIC_LANGUAGES:
        openers = ("Здравствуйте!", "Добрый день!", "Здравствуйте.")
        return {
            "subject": f"Идея для «{name}»" if name else "Идея для вашей компании",
            "body": f"{openers[variant]}\n\n"
            + (f"Посмотрели сайт «{name}»" if name else "Посмотрели ваш сайт")
            + " и хотим коротко рассказать, чем можем быть полезны.\n\n"
            + (f"{offer}\n\n" if offer else "")
            + "Если тема интересна, ответьте на это письмо, и мы пришлём подробности. "
            "Если нет, просто напишите об этом, и мы больше не побеспокоим.",
        }
    openers = ("Hello,", "Good afternoon,", "Hi there,")
    return {
        "subject": f"An idea for {name}" if name else "An idea for your company",
        "body": f"{openers[variant]}\n\n"
        + (f"We looked at the {name} website" if name else "We looked at your website")
        + " and would like to tell you briefly how we could help.\n\n"
        + (f"{offer}\n\n" if offer else "")
        + "If this sounds interesting, reply to this email and we will send the details. "
        "If not, just tell us and we will not write again.",
    }


class OpenAIEmulator(EmulatorServer):
    thread_name = "openai-emulator"

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, api_key: str = "sk-emulator-key-0000"):
        self.host, self.port = host, port
        self.api_key = api_key
        self.requests: list[Recorded] = []
        self.answered: list[int] = []
        self._lock = threading.Lock()
        self._script: deque[_Step] = deque()
        self._count = 0

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def configure(self, settings) -> None:
        """Point the project's settings (pytest-django's `settings` fixture) at this emulator."""
        settings.OPENAI_BASE_URL = self.url
        settings.OPENAI_API_KEY = self.api_key

    # --- scripting ---------------------------------------------------------
    def fail_next(
        self,
        status: int,
        times: int = 1,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        with self._lock:
            for _ in range(times):
                self._script.append(_Step("status", status=status, retry_after=retry_after, code=code, message=message))

    def reply_next(
        self, content: str | dict, times: int = 1, *, finish_reason: str = "stop", refusal: str | None = None
    ) -> None:
        text = json.dumps(content, ensure_ascii=False) if isinstance(content, dict) else content
        with self._lock:
            for _ in range(times):
                self._script.append(_Step("content", content=text, finish_reason=finish_reason, refusal=refusal))

    def drop_next(self, times: int = 1) -> None:
        with self._lock:
            self._script.extend(_Step("drop") for _ in range(times))

    def delay_next(self, seconds: float, times: int = 1) -> None:
        """Answer (the default content) only after `seconds`: a client with a shorter timeout gives up."""
        with self._lock:
            self._script.extend(_Step("content", delay=seconds) for _ in range(times))

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    # --- the API -------------------------------------------------------------
    def handle(self, method: str, path: str, headers, raw: bytes):
        auth = headers.get("Authorization", "")  # case-insensitive: the SDK sends "authorization"
        shown = {
            k.lower(): ("Bearer " + mask(v.removeprefix("Bearer ").strip()) if k.lower() == "authorization" else v)
            for k, v in headers.items()
        }
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record = Recorded(method, path, shown, body if isinstance(body, dict) else None)
        with self._lock:
            self.requests.append(record)
        outcome = self._answer(method, path, auth, record)
        record.status = 0 if outcome is DROP else outcome[0]
        with self._lock:
            self.answered.append(record.status)
        return outcome

    def _answer(self, method: str, path: str, auth: str, record: Recorded):
        key = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if key != self.api_key:
            return self._error(401, key=mask(key) if key else "(none)")
        record.authorized = True
        if method != "POST" or path.rstrip("/") != "/v1/chat/completions":
            return self._error(404, method=method, path=path)
        body = record.body
        if not body or not body.get("model") or not isinstance(body.get("messages"), list) or not body["messages"]:
            return self._error(400, message="'model' and a non-empty 'messages' are required.")
        with self._lock:
            step = self._script.popleft() if self._script else _Step("content")
            self._count += 1
            number = self._count
        if step.kind == "drop":
            return DROP
        if step.kind == "status":
            headers = {"retry-after": f"{step.retry_after:g}"} if step.retry_after is not None else {}
            return self._error(step.status, code=step.code, message=step.message, model=body["model"], headers=headers)
        if step.delay:
            time.sleep(step.delay)
        content = step.content or json.dumps(default_email(body), ensure_ascii=False)
        return 200, self._completion(number, body, content, step), {}

    def _completion(self, number: int, body: dict, content: str, step: _Step) -> dict:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body["messages"] if isinstance(m, dict))
        completion = len(content.split())
        return {
            "id": f"chatcmpl-emu{number:06d}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": f"{body['model']}-2025-04-14" if body["model"] == "gpt-4.1-mini" else body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None if step.refusal else content,
                        "refusal": step.refusal,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": step.finish_reason,
                }
            ],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
            },
            "service_tier": "default",
            "system_fingerprint": "fp_emulator",
        }

    def _error(self, status: int, *, code=None, message=None, headers=None, **fmt):
        kind, default_code, template = ERRORS.get(status, ("api_error", None, "Error {status}."))
        values = {"key": "", "model": "", "method": "", "path": "", "status": status, **fmt}
        payload = {
            "error": {
                "message": message or template.format(**values),
                "type": kind,
                "param": None,
                "code": code if code is not None else default_code,
            }
        }
        return status, payload, headers or {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # the SDK keeps connections alive, as it would with api.openai.com
    server_version = "openai-emulator"

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # quiet: headers carry the API key

    def do_GET(self):
        self._handle("GET", b"")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self._handle("POST", self.rfile.read(length) if length else b"")

    def _handle(self, method: str, body: bytes):
        outcome = self.server.emulator.handle(method, self.path.split("?", 1)[0], self.headers, body)
        if outcome is DROP:
            self.close_connection = True
            return
        status, payload, headers = outcome
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", f"req_emu{len(self.server.emulator.requests):06d}")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Server(LoopbackServer):
    def handle_error(self, request, client_address):
        # A client that timed out before a delayed answer is expected; anything else is a bug to show.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


OpenAIEmulator.handler_class = _Handler
OpenAIEmulator.server_class = _Server
