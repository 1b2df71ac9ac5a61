# trainingportal — developer entry points. Run `make help` for the list.
#
# Everything runs inside .venv (Python 3.12). `make venv` creates it if missing and re-installs
# requirements.txt only when that file changes (stamp file .venv/.requirements-installed).

SHELL := /bin/sh
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
MANAGE  := $(PY) manage.py
CELERY  := $(VENV)/bin/celery
RUFF    := $(VENV)/bin/ruff
DJLINT  := $(VENV)/bin/djlint
STAMP   := $(VENV)/.requirements-installed

# Extra arguments: make test PYTEST_ARGS="-m 'not e2e' -x", make bench BENCH_ARGS=...
PYTEST_ARGS ?=
BENCH_ARGS  ?=
DEMO_ADDR   ?= 127.0.0.1:8000
# The demo's own files: the embedded broker's folders (without REDIS_URL), the worker's log, beat's schedule.
DEMO_DIR    ?= tmp/demo

# Apt packages the PDF and browser tests need (WeasyPrint font subsetting, pdftotext, Chromium, fonts).
TEST_APT_PACKAGES := chromium libharfbuzz-subset0 poppler-utils fonts-dejavu-core

# Dummy values for `check --deploy` only: never used to serve anything.
CHECK_SECRET_KEY    := check-deploy-dummy-Zq8vN3xLr5Tw9KpB2mYc7HsD4fGj6QaE1uWo0iXeT
CHECK_ALLOWED_HOSTS := trainingportal.example.org
CHECK_REDIS_URL     := redis://redis.invalid:6379/0

# Finds a working Python 3.12 and sets $py, or fails loudly. `python3.12` may be a pyenv shim that
# only works with PYENV_VERSION set, so every candidate is verified by running `--version`.
# Override with `make venv PYTHON312=/path/to/python3.12`.
FIND_PYTHON312 = py=""; \
	for c in $(PYTHON312) python3.12 $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.12*/bin/python3.12 \
	         /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do \
	  if "$$c" --version 2>/dev/null | grep -q '^Python 3\.12\.'; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then \
	  echo "ERROR: no working Python 3.12 found (tried python3.12, ~/.pyenv/versions/3.12*, /usr/bin/python3.12)." >&2; \
	  echo "       Django 6.1 needs Python >= 3.12. Install it or run: make venv PYTHON312=/path/to/python3.12" >&2; \
	  exit 1; \
	fi

.PHONY: help venv demo test lint format bench worker beat check clean find-python

help:
	@echo "make venv     create .venv (Python 3.12) and install requirements.txt"
	@echo "make demo     migrate, collect static, seed demo data, run http://$(DEMO_ADDR)/ with a Celery worker"
	@echo "              and beat (queues celery,pdf) on an embedded broker in $(DEMO_DIR)/broker, or on REDIS_URL"
	@echo "make test     run the test suite (PYTEST_ARGS=... to pass options)"
	@echo "make lint     ruff check, ruff format --check, djlint --lint templates, import-linter contracts"
	@echo "make format   ruff --fix and ruff format"
	@echo "make check    migrations up to date; check --deploy with production settings"
	@echo "make bench    run benchmarks"
	@echo "make worker   Celery worker (queues celery,pdf)"
	@echo "make beat     Celery beat (periodic tasks)"
	@echo "make clean    remove collected static files, caches and test artefacts"

find-python:
	@$(FIND_PYTHON312); echo "$$py"; "$$py" --version

venv: $(STAMP)

$(STAMP): requirements.txt
	@set -e; \
	if [ ! -x $(PY) ]; then \
	  $(FIND_PYTHON312); \
	  echo "Creating $(VENV) with $$py ($$("$$py" --version))"; \
	  rm -rf $(VENV); \
	  "$$py" -m venv $(VENV); \
	fi; \
	if ! $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
	  echo "ERROR: $(VENV) uses $$($(PY) --version 2>&1); Django 6.1 needs Python >= 3.12." >&2; \
	  echo "       Remove it (rm -rf $(VENV)) and run make venv again." >&2; \
	  exit 1; \
	fi; \
	echo "Installing requirements.txt into $(VENV)"; \
	$(PY) -m pip install --disable-pip-version-check -q -r requirements.txt; \
	touch $@

# Without REDIS_URL every command of the demo (migrate, seed_demo, the web server, the worker) uses the embedded
# broker in $(DEMO_DIR)/broker: DEMO_BROKER_DIR, see trainingportal/settings/base.py.
ifeq ($(strip $(REDIS_URL)),)
demo: export DEMO_BROKER_DIR := $(abspath $(DEMO_DIR))/broker
endif
demo: venv
	$(MANAGE) migrate --noinput
	$(MANAGE) collectstatic --noinput -v 0
	$(MANAGE) seed_demo
	@set -e; \
	export SITE_URL="$${SITE_URL:-http://$(DEMO_ADDR)}"; \
	demo_dir="$(abspath $(DEMO_DIR))"; \
	mkdir -p "$$demo_dir"; \
	worker_pid=""; \
	cleanup() { \
	  if [ -n "$$worker_pid" ] && kill -0 "$$worker_pid" 2>/dev/null; then \
	    echo "Stopping the Celery worker ($$worker_pid; it finishes the job it is on first)"; \
	    kill -TERM "$$worker_pid" 2>/dev/null || true; \
	    wait "$$worker_pid" 2>/dev/null || true; \
	  fi; \
	}; \
	trap cleanup EXIT; \
	trap 'exit 130' INT; \
	trap 'exit 143' TERM; \
	if [ -n "$$REDIS_URL" ]; then \
	  echo "REDIS_URL is set: starting a Celery worker and beat on Redis (queues celery,pdf)"; \
	else \
	  rm -rf "$$DEMO_BROKER_DIR/processed" "$$DEMO_BROKER_DIR/control"; \
	  if [ -d "$$DEMO_BROKER_DIR/queue" ]; then find "$$DEMO_BROKER_DIR/queue" -name '*.pidbox.msg' -delete; fi; \
	  echo "REDIS_URL not set: starting a Celery worker and beat on an embedded broker (files in $$DEMO_BROKER_DIR)"; \
	fi; \
	$(CELERY) -A trainingportal worker -B -s "$$demo_dir/celerybeat-schedule" -Q celery,pdf -c 2 -n demo@%h \
	  --without-gossip --without-mingle --without-heartbeat -l info >"$$demo_dir/worker.log" 2>&1 & worker_pid=$$!; \
	echo "Celery worker $$worker_pid; its log: $$demo_dir/worker.log"; \
	echo ""; \
	echo "  trainingportal demo: http://$(DEMO_ADDR)/   (Ctrl-C to stop)"; \
	echo ""; \
	$(MANAGE) runserver $(DEMO_ADDR)

test: venv
	@missing=""; \
	command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null 2>&1 || missing="$$missing poppler-utils"; \
	[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || missing="$$missing fonts-dejavu-core"; \
	if command -v dpkg-query >/dev/null 2>&1; then \
	  dpkg-query -W -f='$${Status}' libharfbuzz-subset0 2>/dev/null | grep -q 'ok installed' \
	    || missing="$$missing libharfbuzz-subset0"; \
	fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing test system packages:$$missing"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES) >/dev/null \
	      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(TEST_APT_PACKAGES) >/dev/null; } \
	      || echo "WARNING: could not install$$missing; PDF/browser tests may fail or be skipped." >&2; \
	  else \
	    echo "WARNING: missing$$missing (need: $(TEST_APT_PACKAGES))." >&2; \
	    echo "         Install them as root: apt-get install --no-install-recommends $(TEST_APT_PACKAGES)" >&2; \
	  fi; \
	fi
	DJANGO_ALLOW_ASYNC_UNSAFE=true $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(RUFF) check .
	$(RUFF) format --check .
	$(DJLINT) --lint templates
	$(VENV)/bin/lint-imports

format: venv
	$(RUFF) check --fix .
	$(RUFF) format .

# Needs PostgreSQL (DATABASE_URL, else postgres://postgres@127.0.0.1:5432/trainingportal_bench); see bench/README.md.
bench: venv
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing wrk (HTTP load generator)"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends wrk >/dev/null \
	      || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; } \
	      || echo "WARNING: could not install wrk; the benchmark falls back to a Python load generator." >&2; \
	  else \
	    echo "WARNING: wrk is missing (apt-get install wrk); the benchmark falls back to a Python load generator." >&2; \
	  fi; \
	fi
	$(PY) -m bench $(BENCH_ARGS)

worker: venv
	$(CELERY) -A trainingportal worker -Q celery,pdf -l info

beat: venv
	@mkdir -p tmp
	$(CELERY) -A trainingportal beat -l info --schedule tmp/celerybeat-schedule

check: venv
	$(MANAGE) makemigrations --check --dry-run
	DJANGO_SETTINGS_MODULE=trainingportal.settings.production \
	SECRET_KEY='$(CHECK_SECRET_KEY)' ALLOWED_HOSTS='$(CHECK_ALLOWED_HOSTS)' SITE_URL='https://$(CHECK_ALLOWED_HOSTS)' \
	REDIS_URL='$(CHECK_REDIS_URL)' \
	  $(MANAGE) check --deploy --fail-level WARNING

clean:
	rm -rf staticfiles tmp .pytest_cache .ruff_cache
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
