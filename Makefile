# leadops: `make demo` and `make test` are the whole quick start.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_ENV := DEBUG=true OUTBOUND_HTTP_ALLOWLIST=127.0.0.1/32 REFERENCE_GROUP=-1001000000001 \
	JOINER_PAUSE_SUCCESS=5-10 JOINER_PAUSE_ERROR=3 VK_API_URL=http://127.0.0.1:8091/method/

.PHONY: demo run test lint format bench venv

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
