"""leadops settings: every knob is an environment variable with a safe default.

`.env.example` documents each one. A file of variables is read only when
`LEADOPS_ENV_FILE` names it (`make run` points it at `.env`), so tests and the
demo never pick up a developer's production values by accident.
"""

import base64
import hashlib
import os
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if os.environ.get("LEADOPS_ENV_FILE"):
    environ.Env.read_env(os.environ["LEADOPS_ENV_FILE"], overwrite=False)

# --- core -----------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
LEADOPS_ENCRYPTION_KEYS = env.list("LEADOPS_ENCRYPTION_KEYS", default=[])

_missing = [
    name
    for name, value in (("SECRET_KEY", SECRET_KEY), ("LEADOPS_ENCRYPTION_KEYS", LEADOPS_ENCRYPTION_KEYS))
    if not value
]
if _missing and not DEBUG:
    raise ImproperlyConfigured(
        f"{' and '.join(_missing)} must be set when DEBUG is off (see .env.example); "
        "set DEBUG=true for local development"
    )
if not SECRET_KEY:
    SECRET_KEY = "django-insecure-leadops-development-only"
if not LEADOPS_ENCRYPTION_KEYS:
    # Development only (DEBUG on): a key derived from SECRET_KEY, stable across restarts.
    LEADOPS_ENCRYPTION_KEYS = [base64.urlsafe_b64encode(hashlib.sha256(SECRET_KEY.encode()).digest()).decode()]

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_celery_beat",
    "django_celery_results",
    "leadops",
    "accounts",
    "telegram_sources",
    "seeders",
    "vk_sync",
    "outreach",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "leadops.language.CookieLocaleMiddleware",  # django.middleware.locale.LocaleMiddleware, minus Accept-Language
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Production serves collected static files itself; in DEBUG runserver does.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "leadops.urls"
WSGI_APPLICATION = "leadops.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'leadops.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web process read while a worker writes; IMMEDIATE takes the
    # write lock at BEGIN so two writers queue on the busy timeout instead of
    # failing with "database is locked" halfway through a transaction.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# The admin speaks Russian (the team's language) unless LANGUAGE_CODE says otherwise; a user switches
# for themselves with the header's language menu (a cookie, read by LocaleMiddleware).
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="ru")
LANGUAGES = [("ru", "Русский"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=str(VAR_DIR / "static"))
STATICFILES_DIRS = [BASE_DIR / "static"]
# Reports the weekly job writes (leadops.report_store). They hold members' names: no URL serves this
# directory; staff download the files through the admin. Web and worker must share it.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(VAR_DIR / "media"))
MEDIA_URL = "media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Redis, Celery, limiter -------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = REDIS_URL or "filesystem://"
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {"visibility_timeout": 3 * 3600}
    if REDIS_URL
    else {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
    }
)
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_TASK_TRACK_STARTED = True
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=55 * 60)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=60 * 60)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Outbound HTTP (leadops/http.py): IPs / CIDRs that may be reached although
# they are private or loopback. Empty in production; tests and the demo list
# 127.0.0.1 so the emulators can be reached.
OUTBOUND_HTTP_ALLOWLIST = env.list("OUTBOUND_HTTP_ALLOWLIST", default=[])

# --- Telegram ---------------------------------------------------------------
# Production talks to Telegram unless told otherwise; only development defaults to the fake.
TELEGRAM_GATEWAY = env.str(
    "TELEGRAM_GATEWAY",
    default="telegram_sources.fake_gateway.FakeTelegramGateway"
    if DEBUG
    else "telegram_sources.telethon_gateway.TelethonGateway",
)
TELEGRAM_RPS = env.float("TELEGRAM_RPS", default=4)
TELEGRAM_FLOOD_WAIT_MAX = env.int("TELEGRAM_FLOOD_WAIT_MAX", default=600)
TELEGRAM_FLOOD_SLEEP_THRESHOLD = env.int("TELEGRAM_FLOOD_SLEEP_THRESHOLD", default=60)
TG_API_ID = env.str("TG_API_ID", default="")
TG_API_HASH = env.str("TG_API_HASH", default="")
TG_STRING_SESSION = env.str("TG_STRING_SESSION", default="")
REFERENCE_GROUP = env.str("REFERENCE_GROUP", default="")
REFERENCE_MAX_AGE_HOURS = env.int("REFERENCE_MAX_AGE_HOURS", default=24)
SEEDERS_BATCH_SIZE = env.int("SEEDERS_BATCH_SIZE", default=10)
SEEDERS_STALE_DAYS = env.int("SEEDERS_STALE_DAYS", default=180)

# --- Smart Joiner -----------------------------------------------------------
JOINER_PAUSE_SUCCESS = env.str("JOINER_PAUSE_SUCCESS", default="300-600")
JOINER_PAUSE_ERROR = env.int("JOINER_PAUSE_ERROR", default=60)
JOINER_WARMUP_HOURS = env.int("JOINER_WARMUP_HOURS", default=24)
JOINER_MAX_CHANNELS_PER_ACCOUNT = env.int("JOINER_MAX_CHANNELS_PER_ACCOUNT", default=500)
JOINER_MAX_JOINS_PER_DAY = env.int("JOINER_MAX_JOINS_PER_DAY", default=20)

# --- VK ---------------------------------------------------------------------
VK_API_URL = env.str("VK_API_URL", default="https://api.vk.com/method/")
VK_API_VERSION = env.str("VK_API_VERSION", default="5.199")
VK_SAFETY_THRESHOLD = env.float("VK_SAFETY_THRESHOLD", default=0.95)

# --- Outreach ---------------------------------------------------------------
GOOGLE_SHEET_ID = env.str("GOOGLE_SHEET_ID", default="")
GOOGLE_SHEET_TAB = env.str("GOOGLE_SHEET_TAB", default="NICHES_INPUT")
GOOGLE_SA_KEY_FILE = env.str("GOOGLE_SA_KEY_FILE", default="")
GOOGLE_SA_KEY_JSON = env.str("GOOGLE_SA_KEY_JSON", default="")
# Like Telegram: production reads the real sheet, only development defaults to the in-memory fake.
SHEETS_GATEWAY = env.str(
    "SHEETS_GATEWAY",
    default="outreach.sheets.FakeSheetsGateway" if DEBUG else "outreach.sheets.GspreadSheetsGateway",
)
# The demo only: the fake sheet kept in this JSON file (relative to the project) so the web process,
# the worker and commands share it; unset, each process has its own in memory (tests).
FAKE_SHEET_FILE = env.str("FAKE_SHEET_FILE", default="")
# The demo only: the directory where its SMTP emulator writes each email it receives (.eml); the
# admin lists them (Outreach messages -> "Demo mailbox"). Unset: no such page.
DEMO_MAIL_DIR = env.str("DEMO_MAIL_DIR", default="")
YANDEX_CLOUD_FOLDER_ID = env.str("YANDEX_CLOUD_FOLDER_ID", default="")
YANDEX_CLOUD_IAM_TOKEN = env.str("YANDEX_CLOUD_IAM_TOKEN", default="")
YANDEX_CLOUD_SA_KEY_FILE = env.str("YANDEX_CLOUD_SA_KEY_FILE", default="")
YANDEX_CLOUD_SA_KEY_JSON = env.str("YANDEX_CLOUD_SA_KEY_JSON", default="")
YANDEX_SEARCH_URL = env.str("YANDEX_SEARCH_URL", default="https://searchapi.api.cloud.yandex.net/v2/web/searchAsync")
YANDEX_OPERATION_URL = env.str("YANDEX_OPERATION_URL", default="https://operation.api.cloud.yandex.net/operations/")
YANDEX_IAM_URL = env.str("YANDEX_IAM_URL", default="https://iam.api.cloud.yandex.net/iam/v1/tokens")
YANDEX_ENFORCE_NIGHT_WINDOW = env.bool("YANDEX_ENFORCE_NIGHT_WINDOW", default=True)
OPENAI_API_KEY = env.str("OPENAI_API_KEY", default="")
OPENAI_BASE_URL = env.str("OPENAI_BASE_URL", default="https://api.openai.com/v1")
OPENAI_MODEL = env.str("OPENAI_MODEL", default="gpt-4.1-mini")
OPENAI_MAX_ATTEMPTS = env.int("OPENAI_MAX_ATTEMPTS", default=4)
OPENAI_TIMEOUT = env.float("OPENAI_TIMEOUT", default=30.0)
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="leadops@localhost")
EMAIL_SENDING_ENABLED = env.bool("EMAIL_SENDING_ENABLED", default=False)
OUTREACH_TIMEZONE = env.str("OUTREACH_TIMEZONE", default="Europe/Moscow")
OUTREACH_WINDOW = env.str("OUTREACH_WINDOW", default="09:10-19:45")
OUTREACH_SPACING = env.str("OUTREACH_SPACING", default="240-480")
OUTREACH_DAILY_CAP = env.int("OUTREACH_DAILY_CAP", default=50)
OUTREACH_MX_RESOLVER = env.str("OUTREACH_MX_RESOLVER", default="outreach.mx.DnsMxResolver")
OUTREACH_SKIP_WEEKENDS = env.bool("OUTREACH_SKIP_WEEKENDS", default=False)
# Where recipients reach this site: the base of the unsubscribe links put in every email.
OUTREACH_PUBLIC_URL = env.str("OUTREACH_PUBLIC_URL", default="http://127.0.0.1:8000")

# --- logging ----------------------------------------------------------------
# One handler (stderr) that every logger reaches, Django's, Celery's (leadops/celery.py keeps the worker
# from installing its own) and gunicorn's: its filters scrub secrets and add the JobRun id of the line.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}")
_TO_ROOT = {"handlers": [], "propagate": True, "level": "INFO"}  # drop a logger's own handlers
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "job_context": {"()": "leadops.logging.JobContextFilter"},
        "scrub_secrets": {"()": "leadops.logging.SecretScrubber"},
    },
    "formatters": {
        "json": {"()": "leadops.logging.JsonFormatter"},
        "text": {"()": "leadops.logging.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            # The scrubber runs last, so nothing another filter adds escapes it.
            "filters": ["job_context", "scrub_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's defaults give these their own unfiltered handlers (runserver's request lines, the
        # DEBUG console, mail_admins); here they reach the root's instead.
        "django": _TO_ROOT,
        "django.server": _TO_ROOT,
        # gunicorn's own handlers bypass ours; once Django is loaded in a worker, its lines come here too.
        "gunicorn.error": _TO_ROOT,
        "gunicorn.access": _TO_ROOT,
    },
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
