# leadops: `make demo` and `make test` are the whole quick start.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The demo's emulators (Procfile.demo): VK 8091, Yandex 8092, OpenAI 8093, company sites on
# 127.0.0.2-6:8094 (hence the whole 127.0.0.0/8 allowlisted), SMTP 8025 writing var/demo_mail.
DEMO_ENV := DEBUG=true OUTBOUND_HTTP_ALLOWLIST=127.0.0.0/8 REFERENCE_GROUP=-1001000000001 \
	JOINER_PAUSE_SUCCESS=5-10 JOINER_PAUSE_ERROR=3 VK_API_URL=http://127.0.0.1:8091/method/ \
	YANDEX_SEARCH_URL=http://127.0.0.1:8092/v2/web/searchAsync \
	YANDEX_OPERATION_URL=http://127.0.0.1:8092/operations/ YANDEX_IAM_URL=http://127.0.0.1:8092/iam/v1/tokens \
	YANDEX_CLOUD_IAM_TOKEN=demo-yandex-iam-token YANDEX_CLOUD_FOLDER_ID=demo-folder YANDEX_ENFORCE_NIGHT_WINDOW=false \
	OPENAI_BASE_URL=http://127.0.0.1:8093/v1 OPENAI_API_KEY=demo-openai-key \
	EMAIL_HOST=127.0.0.1 EMAIL_PORT=8025 EMAIL_SENDING_ENABLED=true DEMO_MAIL_DIR=var/demo_mail \
	OUTREACH_WINDOW=00:00-23:59 OUTREACH_SPACING=5-10 OUTREACH_MX_RESOLVER=outreach.mx.FakeMxResolver \
	FAKE_SHEET_FILE=var/demo_sheet.json

.PHONY: demo demo-outreach run test lint format bench venv

venv: $(STAMP)

# Reinstall only when the requirements change.
$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

# Everything on a bare machine: SQLite under var/, the filesystem broker, demo data,
# web + worker + beat (and the emulators) on http://127.0.0.1:8000.
demo: $(STAMP)
	mkdir -p var
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py setup_schedules
	$(DEMO_ENV) $(PY) manage.py ensure_admin --username admin
	$(DEMO_ENV) $(PY) manage.py demo
	@echo "leadops demo: http://127.0.0.1:8000/admin/ (Ctrl-C stops it)"
	$(DEMO_ENV) $(VENV)/bin/honcho -e /dev/null -f Procfile.demo start

# One pass of the outreach pipeline against the demo's emulators, from a second terminal while
# `make demo` runs. Searches are polled a minute after they start: run it again a minute later.
demo-outreach: $(STAMP)
	$(DEMO_ENV) $(PY) manage.py outreach run-once

# Your own settings from .env (see .env.example), no demo data.
run: $(STAMP)
	@test -f .env || { echo "make run reads .env: cp .env.example .env and fill it in" >&2; exit 1; }
	mkdir -p var
	LEADOPS_ENV_FILE=.env $(PY) manage.py migrate --noinput
	LEADOPS_ENV_FILE=.env $(PY) manage.py setup_schedules
	LEADOPS_ENV_FILE=.env $(PY) manage.py collectstatic --noinput --verbosity 0
	LEADOPS_ENV_FILE=.env $(VENV)/bin/honcho -f Procfile start

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: $(STAMP)
	$(PY) -m pytest tests/bench -s -q -o python_files="bench_*.py" -o python_functions="bench_*"
