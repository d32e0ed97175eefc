"""Settings for the test suite: the project's settings with fixed synthetic keys.

Environment variables still win (CI points DATABASE_URL and REDIS_URL at real
servers); only what tests must not depend on is pinned here.
"""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-used-anywhere-else")
os.environ.setdefault("TELEGRAM_GATEWAY", "telegram_sources.fake_gateway.FakeTelegramGateway")
os.environ.setdefault("SHEETS_GATEWAY", "outreach.sheets.FakeSheetsGateway")
# A synthetic Fernet key made for the tests, never used to encrypt real data.
os.environ.setdefault("LEADOPS_ENCRYPTION_KEYS", "dGVzdC1rZXktMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDA=")

from leadops.settings import *  # noqa: E402,F403
from leadops.settings import STORAGES  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MIDDLEWARE = [m for m in MIDDLEWARE if "whitenoise" not in m]  # noqa: F405  (no collectstatic in tests)
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Unit tests run tasks in-process; the end-to-end tests start a real worker.
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# The emulators listen on loopback; the SSRF tests clear this to prove the guard.
OUTBOUND_HTTP_ALLOWLIST = ["127.0.0.1/32"]
# The suite asserts the admin's English; tests/leadops/test_i18n.py switches to Russian where it checks it.
LANGUAGE_CODE = "en"
# No real DNS in tests: every domain has mail unless a test sets an answer (outreach.mx).
OUTREACH_MX_RESOLVER = "outreach.mx.FakeMxResolver"

INSTALLED_APPS = [*INSTALLED_APPS, "tests.secretsapp"]  # noqa: F405
