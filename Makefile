# Two commands, as in the README:
#   make run    set up and start the portal on the embedded default (SQLite, ./var), with demo data
#   make test   run the test suite (SQLite by default; PostgreSQL when PORTAL_TEST_DATABASE_URL is set)
PYTHON ?= python3
# Some machines set PYTHONDONTWRITEBYTECODE: then every process (each test worker, each
# `portal serve` or `portal demo` a test starts) compiles the whole portal and its libraries
# again, which took a quarter of the CLI tests' time.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install install-test check

# uv installs the same packages as pip from the same index, in a quarter of the time. It also
# compiles their bytecode, on both cores, once: otherwise the test workers and the processes
# they start, all beginning together on a fresh clone, each compiled the same libraries (a
# fresh-clone CI took 320 s without it, 264 s with it, on this 2-core machine).
UV := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

$(BIN)/portal: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet uv
	$(UV) -e .
	touch $@

install: $(BIN)/portal

run: install
	$(BIN)/portal demo
	$(BIN)/portal serve --host $(HOST) --port $(PORT)

$(VENV)/.test-deps: pyproject.toml tests/auth/oidc_provider/package-lock.json | $(BIN)/portal
	$(UV) -e '.[test]'
	npm ci --prefix tests/auth/oidc_provider --no-audit --no-fund --loglevel=error
	touch $@

install-test: $(VENV)/.test-deps

# Several processes (pytest-xdist), each with its own database, Redis indexes and folders; a
# file's tests stay together in one process (module fixtures, the fault cluster), the slowest
# files first (tests/conftest.py). Three per engine, not one per core: much of the suite waits
# (subprocesses starting, faults held, SMTP and S3 round trips); with two per engine both runs
# side by side used 57 % of this 2-core machine. At most 4: the Redis indexes are shared out so.
TEST_WORKERS ?= 3
test: install-test
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --maxprocesses 4 --dist loadfile --no-loadscope-reorder

# Lint and types on the code base (not part of `make test`).
check: install-test
	$(BIN)/ruff check portal workers tests
	$(BIN)/mypy portal workers tests
