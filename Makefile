# The two commands: `make run` serves the product, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
# The production pass of the tests: real PostgreSQL and Redis (see .ci/run for starting them).
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dashboard
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# The SQLite pass and the postgres_too tests run in this many pytest-xdist processes (the machines have
# 2 cores), a test module to a process (--dist loadfile: module fixtures, the browser and its
# screenshots stay in one process).
TEST_WORKERS ?= 2
# With DATABASE_URL set the settings require a SECRET_KEY (outside the embedded mode): this one is the tests'.
TEST_SECRET_KEY ?= production-pass-of-the-tests-not-a-secret
# Debian's kubectl, unpacked by tools/system-deps.sh: the conformance client for the simulator.
export KUBECTL := $(abspath $(VENV))/debian/kubernetes-client/usr/bin/kubectl

.PHONY: run test lint bench system-deps clean

$(VENV)/.installed: requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(VENV)/bin/pip check
	touch $@

# The strict plotly.js build (no eval, so the CSP needs no 'unsafe-eval'), pinned by package-lock.json.
PLOTLY_JS := static/vendor/plotly-strict.min.js
$(PLOTLY_JS): package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(@D) && cp node_modules/plotly.js-strict-dist-min/plotly-strict.min.js $@

run: $(VENV)/.installed $(PLOTLY_JS)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py serve --ensure-admin --port $(PORT)

system-deps:
	tools/system-deps.sh $(VENV)

# ruff, then the import contracts of .importlinter (the layering of ARCHITECTURE.md).
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

# The suite on SQLite; then on PostgreSQL and Redis the tests marked postgres_too (each process with its
# own test database), and the production path's (one Redis database, real Celery processes, timed
# intervals: one process).
PRODUCTION_ENV = DATABASE_URL=$(TEST_DATABASE_URL) CACHE_URL=$(TEST_REDIS_URL) CELERY_BROKER_URL=$(TEST_REDIS_URL) \
  SECRET_KEY=$(TEST_SECRET_KEY)
test: $(VENV)/.installed $(PLOTLY_JS) system-deps lint
	$(VENV)/bin/pytest -m "not production" -n $(TEST_WORKERS) --dist loadfile
	$(PRODUCTION_ENV) $(VENV)/bin/pytest -m "postgres_too and not production" -n $(TEST_WORKERS) --dist loadfile
	$(PRODUCTION_ENV) $(VENV)/bin/pytest -m production

# Issue 13's benchmark (BENCHMARKS.md): a throwaway PostgreSQL database it creates and drops, a real
# Celery worker on Redis, the simulator in its own process.  SCALE=bench|small|demo|N, ITEMS=1,2,...,
# PROFILE=1 (cProfile of each worker task into .bench/bench-run/profiles/), KEEP_DATABASE=1 (leave the
# database with its snapshots in place), REUSE_DATABASE=1 (time the pages of that kept database again,
# ITEMS=7 or pages, without a new snapshot).
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/dashboard_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/14
bench: $(VENV)/.installed
	mkdir -p .bench
	DATABASE_URL=$(BENCH_DATABASE_URL) CELERY_BROKER_URL=$(BENCH_REDIS_URL) CACHE_URL=$(BENCH_REDIS_URL) \
	  SECRET_KEY=bench-not-a-secret DASHBOARD_DATA_DIR=.bench DEMO_ENABLED=false \
	  $(if $(PROFILE),BENCH_PROFILE_DIR=$(abspath .bench/bench-run/profiles)) \
	  $(PY) manage.py bench --scale $(or $(SCALE),bench) --items "$(ITEMS)" --json-out .bench/results.json \
	  $(if $(KEEP_DATABASE),--keep-database) $(if $(REUSE_DATABASE),--reuse-database)

clean:
	rm -rf $(VENV) dashboard.sqlite3* .bench node_modules static/vendor
