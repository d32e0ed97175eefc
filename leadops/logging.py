"""Logging for leadops: secrets scrubbed from every line, the running job named on every line.

settings.LOGGING attaches `JobContextFilter` and `SecretScrubber` to its handler, so every record that
reaches it, Django's, Celery's and gunicorn's included, is scrubbed and tagged. `JsonFormatter` writes one
JSON object per line (production); `TextFormatter` a readable line with `[job 42]` (development).

What is scrubbed: the values of the secrets settings hold, every value code registered with
`register_secret` (EncryptedTextField registers what it decrypts), and text shaped like a credential
(VK, OpenAI and Yandex tokens, Telethon string sessions, Fernet keys, JWTs, private keys, `password=...`,
`Authorization: ...`, the password in `scheme://user:password@host`).
"""

import contextvars
import inspect
import json
import logging
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"

# Settings whose values are secrets; DATABASES passwords are added in _settings_secrets.
SECRET_SETTINGS = (
    "SECRET_KEY",
    "LEADOPS_ENCRYPTION_KEYS",
    "EMAIL_HOST_PASSWORD",
    "OPENAI_API_KEY",
    "YANDEX_CLOUD_IAM_TOKEN",
    "YANDEX_CLOUD_SA_KEY_JSON",
    "GOOGLE_SA_KEY_JSON",
    "TG_API_HASH",
    "TG_STRING_SESSION",
)
# Shorter values, or digits only (Telegram api_id, phone-like numbers), would blank out ordinary words
# and ids all over the logs; the shape rules below still catch them after `password=` and the like.
MIN_SECRET_LENGTH = 6
MAX_REGISTERED = 1024
# Scrubbing is linear but not free (~1 s per MB); longer messages and tracebacks are cut first.
MAX_CHARS = 100_000

# --- the shapes of credentials -----------------------------------------------------------------------
_KEY_WORDS = (
    r"access_token|refresh_token|id_token|token|password|passwd|pwd|secret|client_secret|api_?key|apikey"
    r"|access_?key|private_?key|secret_?key|string_?session|session|sessionid|authorization|auth|credentials?"
    r"|signature|sig"
)
_B64 = r"A-Za-z0-9_\-"  # the url-safe base64 alphabet, ASCII only (\w would take Cyrillic too)
_NOT_AGAIN = rf"(?!{re.escape(REDACTED)})"
_KEY_VALUE = re.compile(
    # A key that ends in one of the words (vk_token, EMAIL_HOST_PASSWORD, "password"), `=` or `:`, a value.
    rf"(?P<key>(?<![\w-])(?:[\w-]{{0,40}}[_-])?(?:{_KEY_WORDS}))(?P<keyquote>[\"']?)(?P<sep>[ \t]*[:=][ \t]*)"
    rf"{_NOT_AGAIN}(?P<value>b?\"(?:\\.|[^\"\\\n])*\"|b?'(?:\\.|[^'\\\n])*'|[^\s&,;\"'<>(){{}}\[\]]+)",
    re.IGNORECASE,
)
_SHAPES = [
    # The whole header value, scheme included: `Authorization: Basic dXNlcjpwYXNz`.
    (
        re.compile(
            rf"((?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?){_NOT_AGAIN}[^\s\"',}}][^\"'\r\n,}}]*", re.I
        ),
        rf"\1{REDACTED}",
    ),
    (re.compile(rf"\b(Bearer|OAuth|Api-Key)\s+{_NOT_AGAIN}[\w\-.~+/]+=*", re.I), rf"\1 {REDACTED}"),
    # scheme://user:password@host (SMTP, proxies, database and broker URLs)
    (re.compile(r"\b([a-z][a-z0-9+.\-]*://[^:/@\s]*:)[^@\s/]+@", re.I), rf"\1{REDACTED}@"),
    (
        re.compile(r"-----BEGIN[A-Z ]*PRIVATE KEY-----(?:.*?-----END[A-Z ]*PRIVATE KEY-----|.*)", re.S),
        REDACTED,
    ),
    (re.compile(rf"\bvk1\.a\.[{_B64}.]+"), REDACTED),  # VK user / community token
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{85}(?![0-9a-f])"), REDACTED),  # VK token, the older hex kind
    (re.compile(rf"\bsk-[{_B64}]{{16,}}"), REDACTED),  # OpenAI
    (re.compile(rf"\bt1\.[{_B64}.]{{20,}}"), REDACTED),  # Yandex Cloud IAM token
    (re.compile(rf"\by[0-3]_[{_B64}]{{20,}}"), REDACTED),  # Yandex OAuth token
    (re.compile(rf"\bAQVN[{_B64}]{{20,}}"), REDACTED),  # Yandex Cloud API key
    (re.compile(rf"\beyJ[{_B64}]{{8,}}\.eyJ[{_B64}]{{8,}}\.[{_B64}]+"), REDACTED),  # JWT (the Yandex IAM exchange)
    # Telethon StringSession: "1" + url-safe base64 of dc, address, port and a 256-byte auth key (~350).
    (re.compile(rf"(?<![{_B64}+/])1[{_B64}+/]{{200,}}={{0,2}}"), REDACTED),
    (re.compile(rf"(?<![{_B64}])[{_B64}]{{43}}=(?![{_B64}=])"), REDACTED),  # Fernet key (LEADOPS_ENCRYPTION_KEYS)
]


def _redact_key_value(match: re.Match) -> str:
    value = match["value"]
    quote_char = value.lstrip("b")[:1] if value.lstrip("b")[:1] in ("'", '"') else ""
    return f"{match['key']}{match['keyquote']}{match['sep']}{quote_char}{REDACTED}{quote_char}"


# --- literal secrets: settings and the registry ------------------------------------------------------
_registry: OrderedDict[str, None] = OrderedDict()
_registry_lock = threading.Lock()
_registry_version = 0
_literal_cache: tuple[object, tuple[str, ...]] = (None, ())


def register_secret(value) -> None:
    """Scrub this value from every log line this process writes from now on.

    For code that holds a decrypted secret (EncryptedTextField calls it). The registry keeps the
    MAX_REGISTERED most recent values and is never logged itself.
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str) or not _worth_scrubbing(value):
        return
    global _registry_version
    with _registry_lock:
        if value in _registry:
            _registry.move_to_end(value)
            return
        _registry[value] = None
        while len(_registry) > MAX_REGISTERED:
            _registry.popitem(last=False)
        _registry_version += 1


def forget_registered_secrets() -> None:
    """Empty the registry (tests)."""
    global _registry_version
    with _registry_lock:
        _registry.clear()
        _registry_version += 1


def _worth_scrubbing(value: str) -> bool:
    value = value.strip()
    return len(value) >= MIN_SECRET_LENGTH and not value.lstrip("+").isdigit()


def _settings_secrets() -> list[str]:
    from django.conf import settings

    if not settings.configured:
        return []
    values = []
    for name in SECRET_SETTINGS:
        value = getattr(settings, name, None)
        values.extend(value if isinstance(value, list | tuple) else [value])
    for database in getattr(settings, "DATABASES", {}).values():
        values.append(database.get("PASSWORD"))
    return [str(v) for v in values if v]


def _variants(secret: str):
    """The secret as it may show in a line: itself, URL-quoted, and the parts of a key file."""
    yield secret
    yield quote(secret, safe="")
    yield quote_plus(secret, safe="")
    if secret.lstrip().startswith("{"):
        try:
            private_key = json.loads(secret).get("private_key")
        except (ValueError, AttributeError):
            private_key = None
        if isinstance(private_key, str):
            yield private_key
            yield from (line for line in private_key.splitlines() if len(line) >= 16)


def _literal_secrets() -> tuple[str, ...]:
    """Every literal to scrub, longest first (a secret containing another goes as a whole)."""
    global _literal_cache
    from_settings = tuple(_settings_secrets())
    key = (from_settings, _registry_version)
    if _literal_cache[0] != key:
        with _registry_lock:
            registered = list(_registry)
        literals = {v for s in (*from_settings, *registered) for v in _variants(s) if _worth_scrubbing(v)}
        _literal_cache = (key, tuple(sorted(literals, key=len, reverse=True)))
    return _literal_cache[1]


def scrub(text: str) -> str:
    """`text` with every secret and credential-shaped value replaced by [redacted]."""
    if not text:
        return text
    for secret in _literal_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _SHAPES:
        text = pattern.sub(replacement, text)
    return _KEY_VALUE.sub(_redact_key_value, text)


class SecretScrubber(logging.Filter):
    """Scrubs the final message (arguments merged in), the exception text and the stack of a record.

    The record is rewritten in place (msg = scrubbed message, args = None), so every handler and
    formatter after this filter sees only the scrubbed text. Never drops a record, never raises.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._scrub(record)
        except Exception as exc:  # a log line must never break the code that logs it, nor leak
            record.msg, record.args = f"[log line withheld: scrubbing failed with {type(exc).__name__}]", None
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return True

    @staticmethod
    def _scrub(record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # wrong arguments for the format: keep both, as logging's own error would
            message = f"{record.msg!s} (arguments: {record.args!r})"
        record.msg, record.args = _scrub_bounded(message), None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set, so the traceback is formatted (and scrubbed) once.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _scrub_bounded(record.exc_text)
        if record.stack_info:
            record.stack_info = _scrub_bounded(record.stack_info)


def _scrub_bounded(text: str) -> str:
    if len(text) <= MAX_CHARS:
        return scrub(text)
    # The cut may fall inside a secret: drop the word it split, so no unmatched half of one remains.
    head = text[:MAX_CHARS]
    head = head[: max(head.rfind(" "), head.rfind("\n"), head.rfind("\t")) + 1]
    return f"{scrub(head)} [... {len(text) - len(head)} more characters not logged]"


# --- the job a line belongs to ---------------------------------------------------------------------
_job_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("leadops_job_id", default=None)
_task_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("leadops_task_id", default=None)
_task_tokens: dict[str, tuple[contextvars.Token, contextvars.Token]] = {}


def current_job_id() -> int | None:
    return _job_id.get()


def bind_job_id(job_id: int | None) -> contextvars.Token:
    """From now on, in this context, every line logged carries this JobRun id; undo with unbind_job_id."""
    return _job_id.set(job_id)


def unbind_job_id(token: contextvars.Token) -> None:
    with suppress(ValueError):  # bound in another context: that context's binding ends with it
        _job_id.reset(token)


@contextmanager
def job_log_context(job_id: int | None):
    """Every line logged inside the block carries this JobRun id."""
    token = bind_job_id(job_id)
    try:
        yield
    finally:
        unbind_job_id(token)


class JobContextFilter(logging.Filter):
    """Adds `job_id` (the JobRun being worked on) and `task_id` (the Celery task) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = _job_id.get()
        if getattr(record, "task_id", None) is None:
            record.task_id = _task_id.get()
        return True


def _job_id_argument(task, args, kwargs):
    if "job_id" in (kwargs or {}):
        return kwargs["job_id"]
    try:
        return inspect.signature(task.run).bind_partial(*(args or ()), **(kwargs or {})).arguments.get("job_id")
    except (TypeError, ValueError, AttributeError):
        return None


def bind_task_context(sender=None, task_id=None, task=None, args=None, kwargs=None, **_):
    """Celery task_prerun: the task's lines carry its id and the JobRun id it was given (`job_id`)."""
    if task_id is None:
        return
    job_id = _job_id_argument(task, args, kwargs)
    if job_id is None:  # an eager task run inside a job stays in that job's lines
        job_id = _job_id.get()
    _task_tokens[task_id] = (_job_id.set(job_id), _task_id.set(task_id))


def unbind_task_context(sender=None, task_id=None, **_):
    """Celery task_postrun: back to what was bound before the task (an eager task may run inside a job)."""
    tokens = _task_tokens.pop(task_id, None)
    if tokens is None:
        return
    with suppress(ValueError):  # set in another context (another thread): nothing of ours is bound here
        _task_id.reset(tokens[1])
        _job_id.reset(tokens[0])


def configure_from_settings(**_):
    """Celery setup_logging: use settings.LOGGING instead of Celery's own handlers.

    With a receiver on this signal Celery leaves the root logger alone, so workers and beat log
    through the same filters and format as the web process (LOG_LEVEL governs, not --loglevel).
    """
    from django.conf import settings
    from django.utils.log import configure_logging

    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)


# --- formatters ------------------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, job_id, task_id, exc (and stack)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "job_id": getattr(record, "job_id", None),
            "task_id": getattr(record, "task_id", None),
            "exc": record.exc_text or None,
        }
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """`2025-01-02 10:00:00,123 INFO leadops.jobs [job 42]: message` for people reading a terminal."""

    def __init__(self, fmt=None, datefmt=None, style="%", **kwargs):
        super().__init__(fmt or "%(asctime)s %(levelname)s %(name)s%(job_tag)s: %(message)s", datefmt, style, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        job_id = getattr(record, "job_id", None)
        record.job_tag = f" [job {job_id}]" if job_id is not None else ""
        return super().format(record)
