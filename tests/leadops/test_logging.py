"""Logs: secrets never reach them, every line of a job names its JobRun, JSON in production, text in DEBUG.

The in-process tests write through the very handler settings.LOGGING put on the root logger (its
stream swapped for a buffer); the subprocess tests start Django, or Celery's logging setup, or a real
worker, the way production does.
"""

import base64
import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import time
import uuid

import pytest
from telethon.crypto import AuthKey
from telethon.sessions import StringSession

from leadops import fields
from leadops import logging as leadops_logging
from leadops.jobs import create_job, start_job, track_job
from leadops.logging import (
    MAX_REGISTERED,
    JobContextFilter,
    JsonFormatter,
    SecretScrubber,
    forget_registered_secrets,
    job_log_context,
    register_secret,
    scrub,
)
from leadops.models import JobRun
from tests.conftest import ROOT
from tests.secretsapp.models import Credential
from tests.secretsapp.tasks import SmtpLoginRefused, handle_secrets_task, log_a_line_task
from tests.workers import celery_worker, tasks_go_to

log = logging.getLogger("tests.leadops.test_logging")


def _string_session() -> str:
    """A Telethon StringSession as Telethon writes it, around a synthetic 256-byte auth key."""
    session = StringSession()
    session.set_dc(2, "149.154.167.40", 443)
    session.auth_key = AuthKey(b"".join(hashlib.sha256(f"synthetic-{i}".encode()).digest() for i in range(8)))
    return session.save()


VK_TOKEN = "vk1.a." + base64.urlsafe_b64encode(hashlib.sha512(b"synthetic vk token").digest()).decode().rstrip("=")
SESSION = _string_session()
PASSWORD = "Smtp-pass-7f3e9c1d"
FERNET_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"synthetic fernet key").digest()).decode()
# Whole values and the distinctive middles a partial leak would show.
FRAGMENTS = [VK_TOKEN, VK_TOKEN[6:40], SESSION, SESSION[40:80], SESSION[-40:], PASSWORD, "7f3e9c1d"]


def assert_no_secret(text: str, where: str = "the logs") -> None:
    leaked = [fragment for fragment in FRAGMENTS if fragment in text]
    assert not leaked, f"{where} show {leaked}"


def _configured_handler() -> logging.Handler:
    for handler in logging.getLogger().handlers:
        if any(isinstance(f, SecretScrubber) for f in handler.filters):
            return handler
    pytest.fail("the root logger has no handler with settings.LOGGING's filters")


@pytest.fixture
def log_output():
    """What settings.LOGGING's handler writes, in JSON and at INFO whatever LOG_FORMAT/LOG_LEVEL say."""
    handler, root = _configured_handler(), logging.getLogger()
    stream, formatter, level = io.StringIO(), handler.formatter, root.level
    previous = handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        handler.setStream(previous)
        handler.setFormatter(formatter)
        root.setLevel(level)


@pytest.fixture(autouse=True)
def empty_registry():
    forget_registered_secrets()
    yield
    forget_registered_secrets()


def json_lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# --- the Done-when ----------------------------------------------------------------------------
@pytest.mark.django_db
@pytest.mark.parametrize("registry", ["registered when decrypted", "shapes and settings alone"])
def test_a_task_handling_a_token_a_session_and_a_password_logs_none_of_them(
    registry, log_output, settings, monkeypatch
):
    settings.EMAIL_HOST_PASSWORD = PASSWORD
    if registry == "shapes and settings alone":
        monkeypatch.setattr(fields, "register_secret", lambda value: None)
    vk = Credential.objects.create(label="vk", secret=VK_TOKEN)
    telegram = Credential.objects.create(label="telegram", secret=SESSION)
    job = create_job(kind="secrets-demo")
    task_id = str(uuid.uuid4())

    with pytest.raises(SmtpLoginRefused):
        handle_secrets_task.apply_async(
            kwargs={"job_id": job.pk, "vk_credential_id": vk.pk, "telegram_credential_id": telegram.pk},
            task_id=task_id,
        )

    output = log_output.getvalue()
    assert_no_secret(output)
    # Without a broker, apply_async's producer warns before the task starts; the rest is the task's.
    lines = [line for line in json_lines(log_output) if line["logger"] != "kombu.connection"]
    messages = "\n".join(line["message"] for line in lines)
    # The lines are there, with what is not secret left readable.
    assert "users.get?access_token=[redacted]&v=5.199" in messages
    assert "connect?session=[redacted]" in messages
    assert "'password': '[redacted]'" in messages
    assert "smtp://ops:[redacted]@mail.example.test:587" in messages
    failure = next(line for line in lines if line["message"].startswith("delivery failed"))
    assert "SmtpLoginRefused: 535 5.7.8 authentication failed" in failure["exc"]
    assert "Traceback" in failure["exc"]
    # Every line logged inside the task names its job and its task.
    assert len(lines) >= 8
    assert {line["job_id"] for line in lines} == {job.pk}
    assert {line["task_id"] for line in lines} == {task_id}
    # The job's own log, shown in the admin, is scrubbed the same way.
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert "giving up on [redacted]" in job.error
    assert_no_secret(job.log_tail + job.error, "the JobRun")


# --- the job and task a line belongs to ---------------------------------------------------------------
@pytest.mark.parametrize("call", ["job_id by name", "job_id by position"])
def test_a_task_given_a_job_id_tags_its_lines_without_track_job(call, log_output):
    if call == "job_id by name":
        log_a_line_task.apply(kwargs={"job_id": 41, "text": "inside"}, task_id="task-41")
    else:
        log_a_line_task.apply(args=(41, "inside"), task_id="task-41")
    log.info("after the task")

    inside, after = [line for line in json_lines(log_output) if line["logger"] != "celery.app.trace"]
    assert (inside["message"], inside["job_id"], inside["task_id"]) == ("task line: inside", 41, "task-41")
    assert (after["job_id"], after["task_id"]) == (None, None)


def test_an_eager_task_without_a_job_id_stays_in_the_job_that_runs_it(log_output):
    with job_log_context(7):
        log_a_line_task.apply(kwargs={"job_id": None, "text": "nested"}, task_id="nested")

    (line,) = [line for line in json_lines(log_output) if line["logger"] != "celery.app.trace"]
    assert (line["job_id"], line["task_id"]) == (7, "nested")


@pytest.mark.django_db
def test_track_job_tags_the_lines_inside_it_and_only_those(log_output):
    job = create_job(kind="secrets-demo")
    with track_job(job.pk) as reporter:
        log.info("working")
        reporter.log("halfway")
    log.info("done")

    lines = {line["message"]: line["job_id"] for line in json_lines(log_output)}
    assert lines["working"] == job.pk
    assert lines[f"job {job.pk}: halfway"] == job.pk
    assert lines["done"] is None


def test_an_explicit_job_id_in_extra_wins(log_output):
    with job_log_context(1):
        log.info("for another job", extra={"job_id": 2})
    assert json_lines(log_output)[0]["job_id"] == 2


# --- the formats ---------------------------------------------------------------------------------------
def test_each_line_is_one_json_object_even_with_a_traceback(log_output):
    try:
        raise ValueError("first line\nsecond line")
    except ValueError:
        log.exception("failed on %s", "Ёлка", stack_info=True)
    log.warning("plain")

    first, second = json_lines(log_output)  # two lines, each parses
    assert set(first) == {"time", "level", "logger", "message", "job_id", "task_id", "exc", "stack"}
    assert first["level"] == "ERROR"
    assert first["logger"] == "tests.leadops.test_logging"
    assert first["message"] == "failed on Ёлка"
    assert first["exc"].startswith("Traceback") and "ValueError: first line\nsecond line" in first["exc"]
    assert "Stack (most recent call last)" in first["stack"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    assert second["exc"] is None and "stack" not in second


SCRIPT = """
import logging, django
django.setup()
from leadops.logging import job_log_context
with job_log_context(42):
    logging.getLogger("leadops.demo").warning("sending with password=%s", "hunter2-synthetic")
"""
PRODUCTION = {"DEBUG": "false", "SECRET_KEY": "s" * 50, "LEADOPS_ENCRYPTION_KEYS": FERNET_KEY}


def _run(code: str, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "LOG_FORMAT", "LOG_LEVEL", *PRODUCTION}}
    env = {**clean, "DJANGO_SETTINGS_MODULE": "leadops.settings", **{k: str(v) for k, v in env.items()}}
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_debug_logs_readable_lines_with_the_job():
    result = _run(SCRIPT, DEBUG="true")

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\d [\d:,]+ WARNING leadops\.demo \[job 42\]: sending with password=\[redacted\]\n",
        result.stderr,
    )


def test_production_logs_json_lines():
    result = _run(SCRIPT, **PRODUCTION)

    assert result.returncode == 0, result.stderr
    line = json.loads(result.stderr)
    assert (line["level"], line["logger"], line["job_id"]) == ("WARNING", "leadops.demo", 42)
    assert line["message"] == "sending with password=[redacted]"


def test_log_format_overrides_the_default_and_refuses_unknown_formats():
    forced = _run(SCRIPT, DEBUG="true", LOG_FORMAT="json")
    assert json.loads(forced.stderr)["job_id"] == 42

    bad = _run(SCRIPT, DEBUG="true", LOG_FORMAT="xml")
    assert bad.returncode != 0
    assert "LOG_FORMAT must be json or text, not 'xml'" in bad.stderr


def test_celerys_logging_setup_keeps_the_scrubbing_handler():
    # What `celery worker` and `celery beat` do at start; the task logger is Celery's own.
    code = """
import logging, django
from leadops.celery import app
django.setup()
app.log.setup(loglevel="WARNING", redirect_stdouts=True)
from celery.utils.log import get_task_logger
get_task_logger("tests.demo").info("task logger says token=%s", "abcdef123456")
logging.getLogger("celery.app.trace").info("celery says %s", "vk1.a.abcdefghijklmnop")
"""
    result = _run(code, DEBUG="true", LOG_FORMAT="json")

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == ["task logger says token=[redacted]", "celery says [redacted]"]


def test_djangos_and_gunicorns_loggers_reach_the_scrubbing_handler(log_output):
    for name in ("django.request", "django.server", "gunicorn.access", "gunicorn.error", "py.warnings"):
        logging.getLogger(name).warning("GET /unsubscribe?token=%s", "abcdef123456")
    lines = json_lines(log_output)
    assert [line["logger"] for line in lines] == [
        "django.request",
        "django.server",
        "gunicorn.access",
        "gunicorn.error",
        "py.warnings",
    ]
    assert {line["message"] for line in lines} == {"GET /unsubscribe?token=[redacted]"}


# --- what is scrubbed ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line, secret",
    [
        ("GET /method/users.get?v=5.199&access_token=abc123def456", "abc123def456"),
        (f"token {VK_TOKEN} set aside", VK_TOKEN),
        ("old token " + "0123456789abcdef" * 5 + "01234", "0123456789abcdef" * 5 + "01234"),
        (f"session {SESSION}", SESSION[1:60]),
        ("Authorization: Bearer eyAbC.dEf-123", "eyAbC.dEf-123"),
        ("headers {'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("Authorization: OAuth y0_AgAAAAAsyntheticOAuthToken000", "y0_AgAAAAAsyntheticOAuthToken000"),
        ("key sk-proj-Synthetic0123456789abcdef in use", "Synthetic0123456789abcdef"),
        ("iam t1.9euelZqSyntheticIamToken0123456789.abc", "9euelZqSyntheticIamToken0123456789"),
        ("x-api-key AQVNSyntheticApiKey0123456789abc", "AQVNSyntheticApiKey0123456789abc"),
        ("jwt eyJhbGciOiJQUzI1NiJ9.eyJpc3MiOiJzeW50aGV0aWMifQ.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        (f"fernet key {FERNET_KEY} loaded", FERNET_KEY),
        ('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADAN\\n-----END PRIVATE KEY-----\\n"}', "MIIEvQ"),
        ("proxy socks5://user:pr0xy-pass@10.0.0.1:1080", "pr0xy-pass"),
        ("login with password: hunter2-synthetic", "hunter2-synthetic"),
        ("EMAIL_HOST_PASSWORD='hunter2 with spaces'", "hunter2 with spaces"),
        ("kwargs {'string_session': b'1AbCdEf'}", "1AbCdEf"),
    ],
)
def test_credential_shaped_values_are_scrubbed(line, secret):
    scrubbed = scrub(line)
    assert secret not in scrubbed
    assert "[redacted]" in scrubbed
    assert scrub(scrubbed) == scrubbed  # a second handler's pass changes nothing


@pytest.mark.parametrize(
    "line",
    [
        "VK token main set aside until 2025-01-01T10:00:00+00:00: error 29",
        "Telegram account 'promo': session is not authorized",
        "session_name=promo_secret token_label=main token_id=17 group -1002188344480",
        "Экспорт группы @chat_000: 1200 участников, offset 4000",
        "GET 127.0.0.1 -> 200",
    ],
)
def test_ordinary_lines_are_left_alone(line):
    assert scrub(line) == line


@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")  # only its PASSWORD is read here
def test_the_values_of_secret_settings_are_scrubbed_wherever_they_appear(settings, log_output):
    private_key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\n-----END PRIVATE KEY-----\n"
    settings.OPENAI_API_KEY = "openai-key-without-the-usual-prefix"
    settings.YANDEX_CLOUD_SA_KEY_JSON = json.dumps({"id": "aje0", "private_key": private_key})
    settings.DATABASES = {"default": {**settings.DATABASES["default"], "PASSWORD": "db-pass-synthetic"}}

    log.info("key openai-key-without-the-usual-prefix, db db-pass-synthetic")
    log.info("a key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw")
    log.info("the SA key file: %s", settings.YANDEX_CLOUD_SA_KEY_JSON)

    output = log_output.getvalue()
    for secret in ("openai-key-without", "db-pass-synthetic", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw"):
        assert secret not in output


def test_registered_secrets_are_scrubbed_plain_and_url_quoted(log_output):
    register_secret("plain secret/with+odd=chars")
    register_secret(b"bytes-secret-value")

    log.info("a %s b", "plain secret/with+odd=chars")
    log.info("https://example.test/?q=plain%20secret%2Fwith%2Bodd%3Dchars")
    log.info("https://example.test/?q=plain+secret%2Fwith%2Bodd%3Dchars and bytes-secret-value")

    output = log_output.getvalue()
    assert "plain secret" not in output and "bytes-secret" not in output
    assert output.count("[redacted]") == 4


def test_the_registry_ignores_short_and_numeric_values_and_stays_bounded():
    for value in ("12345", "98765432", "+380991234567", "", None, 42):
        register_secret(value)
    assert scrub("id 98765432 phone +380991234567 pin 12345") == "id 98765432 phone +380991234567 pin 12345"

    for i in range(MAX_REGISTERED + 10):
        register_secret(f"bulk-secret-{i:06d}")
    assert scrub("bulk-secret-000000") == "bulk-secret-000000"  # the oldest made room
    assert scrub(f"bulk-secret-{MAX_REGISTERED + 9:06d}") == "[redacted]"


def test_a_longer_secret_containing_a_shorter_one_goes_as_a_whole():
    register_secret("inner-secret")
    register_secret("outer-inner-secret-tail")
    assert scrub("x outer-inner-secret-tail y") == "x [redacted] y"


@pytest.mark.django_db
def test_an_encrypted_field_registers_what_it_decrypts(log_output):
    credential = Credential.objects.create(label="smtp", secret="decrypted-smtp-pass")
    forget_registered_secrets()  # as in a worker that only ever read the row

    secret = Credential.objects.get(pk=credential.pk).secret
    log.info("login failed: %s", secret)

    assert "decrypted-smtp-pass" not in log_output.getvalue()


def test_exception_text_and_stack_are_scrubbed(log_output):
    register_secret("exc-secret-value")
    try:
        raise RuntimeError("refused with exc-secret-value")
    except RuntimeError:
        log.error("failed", exc_info=True)
    log.warning("where: exc-secret-value", stack_info=True)

    output = log_output.getvalue()
    assert "exc-secret-value" not in output
    assert "RuntimeError: refused with [redacted]" in output


# --- odd records: never a crash, never a leak ---------------------------------------------------------
class Unprintable:
    def __str__(self):
        raise RuntimeError("no str")

    __repr__ = __str__


@pytest.mark.parametrize(
    "msg, args",
    [
        (12345, ()),
        ({"password": "odd-secret-1"}, ()),
        (b"bytes message access_token=odd-secret-1", ()),
        ("%(who)s used %(password)s", ({"who": "ops", "password": "odd-secret-1"},)),
        ("%s", (b"token=odd-secret-1",)),
        ("%s and %s", ("odd-secret-1",)),  # too few arguments
        ("%d", ("odd-secret-1",)),  # the wrong type
        (Unprintable(), ()),
        ("%s", (Unprintable(),)),
    ],
)
def test_odd_records_pass_without_a_crash_or_a_leak(msg, args, log_output):
    register_secret("odd-secret-1")
    record = logging.LogRecord("tests.odd", logging.WARNING, __file__, 1, msg, args, None)

    _configured_handler().handle(record)

    output = log_output.getvalue()
    assert output.count("\n") == 1
    assert "odd-secret-1" not in output
    assert json.loads(output)["logger"] == "tests.odd"


def test_the_filters_work_without_django_configured_logging():
    # Any handler can carry them (a file handler, a test's own).
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(JobContextFilter())
    handler.addFilter(SecretScrubber())
    handler.setFormatter(leadops_logging.TextFormatter())
    logger = logging.getLogger("tests.leadops.standalone")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with job_log_context(5):
            logger.warning("pwd=%s", "standalone-secret")
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    assert stream.getvalue().endswith("WARNING tests.leadops.standalone [job 5]: pwd=[redacted]\n")


def test_a_huge_message_is_cut_before_scrubbing_without_leaving_half_a_secret(log_output):
    register_secret("huge-message-secret")
    filler = "word " * (leadops_logging.MAX_CHARS // 5 - 2)
    log.info("%s%s tail", filler, "huge-message-secret")

    (line,) = json_lines(log_output)
    assert "huge-message" not in line["message"]
    assert line["message"].endswith("more characters not logged]")


# --- a real worker -----------------------------------------------------------------------------------
@pytest.mark.redis
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_logs_json_lines_with_the_job_and_no_secret(tmp_path):
    output = tmp_path / "worker.log"
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO", "EMAIL_HOST_PASSWORD": PASSWORD}
    with celery_worker(queue, output, env=env), tasks_go_to(queue):
        vk = Credential.objects.create(label="vk", secret=VK_TOKEN)
        telegram = Credential.objects.create(label="telegram", secret=SESSION)
        job = start_job(
            kind="secrets-demo",
            task=handle_secrets_task,
            task_kwargs={"vk_credential_id": vk.pk, "telegram_credential_id": telegram.pk},
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "raised unexpected" not in output.read_text():
            time.sleep(0.5)

    text = output.read_text()
    assert "raised unexpected" in text, text[-3000:]
    assert_no_secret(text, "the worker's output")
    lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    task_lines = [line for line in lines if line["logger"] == "tests.secretsapp.tasks"]
    assert len(task_lines) >= 7
    assert {(line["job_id"], line["task_id"]) for line in task_lines} == {(job.pk, job.celery_task_id)}
    job.refresh_from_db()
    assert job.status == JobRun.Status.FAILED
    assert_no_secret(job.log_tail + job.error, "the JobRun")
