"""Settings come from the environment, with safe defaults and one clear refusal."""

import json
import os
import subprocess
import sys

from tests.conftest import ROOT, run_manage

CLEAN_ENV = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "LEADOPS_ENCRYPTION_KEYS", "DEBUG"}}


def _run(args, env):
    return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)


def test_it_refuses_to_start_without_secrets_when_debug_is_off():
    env = {**CLEAN_ENV, "DJANGO_SETTINGS_MODULE": "leadops.settings", "DEBUG": "false"}
    result = _run([sys.executable, "manage.py", "check"], env)

    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "SECRET_KEY and LEADOPS_ENCRYPTION_KEYS must be set when DEBUG is off" in lines[0]


def test_it_names_only_the_missing_secret():
    env = {**CLEAN_ENV, "DJANGO_SETTINGS_MODULE": "leadops.settings", "DEBUG": "false", "SECRET_KEY": "x" * 50}
    result = _run([sys.executable, "manage.py", "check"], env)

    assert result.returncode != 0
    assert "LEADOPS_ENCRYPTION_KEYS must be set" in result.stderr
    assert "SECRET_KEY and" not in result.stderr


def test_it_uses_sqlite_in_var_with_wal_and_immediate_transactions_by_default():
    env = {k: v for k, v in CLEAN_ENV.items() if k != "DATABASE_URL"}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="leadops.settings")
    code = "from django.conf import settings as s; import json; print(json.dumps(s.DATABASES['default'], default=str))"
    result = _run([sys.executable, "-c", f"import django; django.setup(); {code}"], env)
    db = json.loads(result.stdout)

    assert db["ENGINE"] == "django.db.backends.sqlite3"
    assert db["NAME"] == str(ROOT / "var" / "leadops.sqlite3")
    assert db["OPTIONS"]["transaction_mode"] == "IMMEDIATE"
    assert db["OPTIONS"]["timeout"] >= 5
    assert "journal_mode=WAL" in db["OPTIONS"]["init_command"]


def test_it_reads_postgres_from_database_url():
    env = {**CLEAN_ENV, "DEBUG": "true", "DJANGO_SETTINGS_MODULE": "leadops.settings"}
    env["DATABASE_URL"] = "postgres://ops@db.internal:5433/leadops"
    code = (
        "from django.conf import settings as s; print(s.DATABASES['default']['ENGINE'], s.DATABASES['default']['HOST'])"
    )
    result = _run([sys.executable, "-c", f"import django; django.setup(); {code}"], env)

    assert result.stdout.split() == ["django.db.backends.postgresql", "db.internal"]


def test_the_broker_is_the_filesystem_without_redis_and_redis_with_it():
    env = {k: v for k, v in CLEAN_ENV.items() if k != "REDIS_URL"}
    env.update(DEBUG="true", DJANGO_SETTINGS_MODULE="leadops.settings")
    code = "from leadops.celery import app; print(app.conf.broker_url)"
    assert _run([sys.executable, "-c", code], env).stdout.strip() == "filesystem://"
    env["REDIS_URL"] = "redis://127.0.0.1:6379/3"
    assert _run([sys.executable, "-c", code], env).stdout.strip() == "redis://127.0.0.1:6379/3"


def test_manage_py_check_passes_with_the_test_settings():
    result = run_manage("check", env={"DJANGO_SETTINGS_MODULE": "tests.settings"})
    assert "no issues" in result.stdout
