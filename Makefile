# Two commands: `make run` (fresh machine -> running app with demo data) and `make test` (whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export FLASK_APP := app:create_app
HOST ?= 127.0.0.1
PORT ?= 8000

FAKE_LLM_PORT ?= 8099

.PHONY: run run-ai test test-postgres test-fast lint format-check typecheck install install-dev frontend browser-deps bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Front-end libraries come from npm (pinned in package.json) and are served from static/vendor.
frontend:
	@if [ -f package.json ]; then npm ci --no-audit --no-fund --loglevel=error && npm run --silent vendor; fi

run: install frontend
	$(BIN)/flask db upgrade
	$(BIN)/flask prompts sync
	$(BIN)/flask seed-demo --if-empty
	@echo "------------------------------------------------------------------"
	@echo "Planogram AI workbench: http://$(HOST):$(PORT)"
	@$(BIN)/flask demo-admin
	@echo "------------------------------------------------------------------"
	BIND=$(HOST):$(PORT) $(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# `make run` with the fake provider beside the app: every AI feature answers with scripted test replies in its
# schema, reported under the model "fake-<model>" (devtools/fake_llm; no network, no keys). Stops it on exit.
run-ai: install frontend
	@$(BIN)/flask fake-llm --port $(FAKE_LLM_PORT) & fake=$$!; trap 'kill $$fake 2>/dev/null' EXIT INT TERM; \
	  LLM_PROVIDER=anthropic ANTHROPIC_BASE_URL=http://127.0.0.1:$(FAKE_LLM_PORT) ANTHROPIC_API_KEY=fake-key \
	  $(MAKE) --no-print-directory run

# Browser tests drive Debian's Chromium through Playwright (never a downloaded browser build).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium with apt-get" >&2; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install-dev
	$(BIN)/ruff check .

# Not part of `make test` yet: the tree is reformatted in one commit first.
format-check: install-dev
	$(BIN)/ruff format --check .

# The whole tree (tests, bench and migrations in lighter sections of pyproject.toml).
typecheck: install-dev
	$(BIN)/mypy .

# Whole suite: lint, types, pytest in embedded mode, then the app-level tests again with all state in Redis;
# line coverage of both runs together (product code: see [tool.coverage] in pyproject.toml).
test: install-dev frontend browser-deps lint format-check typecheck
	scripts/with-redis.sh bash -c '\
	  $(BIN)/pytest -q --cov --cov-report= && \
	  echo "== Redis mode: app-level tests with REDIS_URL set ==" && \
	  TEST_MODE=redis $(BIN)/pytest -q --cov --cov-append --cov-report= tests/api'
	@$(BIN)/coverage report --skip-covered --sort=cover | tail -n 12
	@echo "Line coverage (both runs): $$($(BIN)/coverage report --format=total)%"

# The tests that use a database again, every app on a throwaway PostgreSQL cluster (installed with apt-get
# when missing; scripts/with-postgres.sh), then the app-level ones with all shared state in Redis as well
# (the several-servers topology of docs/DEPLOY.md).
test-postgres: install-dev frontend browser-deps
	scripts/with-redis.sh scripts/with-postgres.sh bash -c '\
	  TEST_MODE=postgres $(BIN)/pytest -q && \
	  echo "== PostgreSQL + Redis: app-level tests with REDIS_URL set ==" && \
	  TEST_MODE=postgres,redis $(BIN)/pytest -q tests/api'

# Local loop: skips suites marked slow (CI runs them).
test-fast: install-dev
	scripts/with-redis.sh $(BIN)/pytest -q -m "not slow"

bench: install-dev
	$(BIN)/python bench/import_bench.py

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache .mypy_cache .ruff_cache .coverage
