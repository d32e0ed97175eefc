"""What there is no Docker engine here to prove by running: the compose file's
services, commands and env wiring, and that .env.example documents every setting."""

import re

import yaml

from tests.conftest import ROOT

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = ("web", "worker", "beat")


def _documented_settings() -> set[str]:
    return set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))


def _settings_read_from_env() -> set[str]:
    source = (ROOT / "leadops" / "settings.py").read_text()
    return set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z][A-Z0-9_]+)"', source))


def test_it_has_the_five_services():
    assert set(SERVICES) == {"web", "worker", "beat", "db", "redis"}


def test_the_app_services_share_one_image_and_take_secrets_from_dotenv():
    for name in APP_SERVICES:
        service = SERVICES[name]
        assert service["build"] == "."
        assert service["env_file"] == ".env"
        assert service["environment"]["DATABASE_URL"].startswith("postgres://leadops:${POSTGRES_PASSWORD")
        assert service["environment"]["DATABASE_URL"].endswith("@db:5432/leadops")
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        assert not any("SECRET" in key or "KEY" in key for key in service["environment"])


def test_web_migrates_then_serves_with_gunicorn():
    command = SERVICES["web"]["command"]
    assert command.index("manage.py migrate") < command.index("gunicorn leadops.wsgi:application")
    assert "8000:8000" in SERVICES["web"]["ports"]


def test_workers_and_beat_start_after_migrations():
    assert SERVICES["worker"]["command"].startswith("celery -A leadops worker")
    assert SERVICES["beat"]["command"].startswith("celery -A leadops beat")
    for name in ("worker", "beat"):
        assert SERVICES[name]["depends_on"]["web"]["condition"] == "service_healthy"


def test_postgres_16_keeps_its_data_in_a_volume():
    db = SERVICES["db"]
    assert db["image"] == "postgres:16"
    assert "pgdata:/var/lib/postgresql/data" in db["volumes"]
    assert "pgdata" in COMPOSE["volumes"]
    assert db["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD")


def test_every_service_has_a_health_check():
    for name, service in SERVICES.items():
        assert service.get("healthcheck", {}).get("test"), name


def test_the_image_serves_static_files_through_whitenoise():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "FROM python:3.11" in dockerfile
    assert "collectstatic" in dockerfile
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile


def test_dotenv_example_documents_every_setting():
    missing = _settings_read_from_env() - _documented_settings()
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_dotenv_example_lists_the_architecture_settings():
    required = {
        "DATABASE_URL",
        "REDIS_URL",
        "SECRET_KEY",
        "DEBUG",
        "ALLOWED_HOSTS",
        "LEADOPS_ENCRYPTION_KEYS",
        "TELEGRAM_GATEWAY",
        "TELEGRAM_RPS",
        "TELEGRAM_FLOOD_WAIT_MAX",
        "REFERENCE_GROUP",
        "REFERENCE_MAX_AGE_HOURS",
        "SEEDERS_BATCH_SIZE",
        "SEEDERS_STALE_DAYS",
        "JOINER_PAUSE_SUCCESS",
        "JOINER_PAUSE_ERROR",
        "JOINER_WARMUP_HOURS",
        "JOINER_MAX_CHANNELS_PER_ACCOUNT",
        "JOINER_MAX_JOINS_PER_DAY",
        "VK_API_URL",
        "VK_API_VERSION",
        "VK_SAFETY_THRESHOLD",
        "GOOGLE_SHEET_ID",
        "GOOGLE_SHEET_TAB",
        "GOOGLE_SA_KEY_FILE",
        "GOOGLE_SA_KEY_JSON",
        "SHEETS_GATEWAY",
        "YANDEX_CLOUD_FOLDER_ID",
        "YANDEX_CLOUD_IAM_TOKEN",
        "YANDEX_CLOUD_SA_KEY_FILE",
        "YANDEX_CLOUD_SA_KEY_JSON",
        "YANDEX_SEARCH_URL",
        "YANDEX_OPERATION_URL",
        "YANDEX_IAM_URL",
        "YANDEX_ENFORCE_NIGHT_WINDOW",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_MODEL",
        "DEFAULT_FROM_EMAIL",
        "EMAIL_SENDING_ENABLED",
        "OUTREACH_TIMEZONE",
        "OUTREACH_WINDOW",
        "OUTREACH_SPACING",
        "OUTREACH_DAILY_CAP",
        "EMAIL_HOST",
        "EMAIL_PORT",
    }
    assert required <= _documented_settings() & _settings_read_from_env()


def test_the_readme_quick_start_is_make_demo_and_make_test():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert re.findall(r"^make \w+", quick_start, re.M) == ["make demo", "make test"]
    for name in _documented_settings() - {"POSTGRES_PASSWORD"}:
        assert f"`{name}`" in readme, f"README does not describe {name}"


def test_ci_runs_the_readme_test_command():
    assert "\nmake test\n" in (ROOT / ".ci" / "run").read_text()


def test_health_checks_use_healthz_without_waiting_for_worker_and_beat():
    web_check = " ".join(SERVICES["web"]["healthcheck"]["test"])
    # worker and beat wait for web to be healthy: web's check must not wait for them in turn.
    assert "/healthz?checks=database,broker" in web_check
    assert SERVICES["beat"]["healthcheck"]["test"] == ["CMD", "python", "-m", "leadops.health", "beat"]
    assert "inspect ping" in " ".join(SERVICES["worker"]["healthcheck"]["test"])
    # beat's heartbeat entry must exist in the database before beat's health check can pass.
    command = SERVICES["web"]["command"]
    assert command.index("manage.py migrate") < command.index("manage.py setup_schedules") < command.index("gunicorn")
