# Fleetwatch: `make demo` runs the hub with emulated vendors; `make test` runs every test.
VENV      ?= .venv
PY        := $(VENV)/bin/python
TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/fleetwatch
PYTEST_ARGS ?=
# make test-fast: parallel pytest workers, each with its own SQLite test database. Twice the
# cores of a 2-core machine: many tests wait on sockets and clocks, not the CPU (measured: 2
# workers 2 min 53 s, 3 workers 2 min 14 s, 4 workers 2 min 2 s).
FAST_WORKERS ?= 4
# make test: pytest-xdist workers for each full pass (0: no parallelism, one process).
TEST_WORKERS ?= 2
# Let Python keep compiled bytecode (some shells set PYTHONDONTWRITEBYTECODE): without it every
# pytest worker recompiles and assertion-rewrites every test module, ~10 s of CPU each time.
unexport PYTHONDONTWRITEBYTECODE
ORM_TESTS ?= tests/incidents tests/accounts tests/notifications tests/observability tests/inventory

.PHONY: venv demo test test-fast test-sqlite test-postgres test-postgres-orm lint typecheck format bench clean

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || "$$(scripts/find-python312)" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

demo: venv
	$(VENV)/bin/fleetwatch demo

test: venv lint test-sqlite test-postgres test-postgres-orm

# The edit loop: unit and API tests on SQLite, in parallel; no subprocesses, no end-to-end runs
# (the tests marked `slow`); property tests on a quarter of their examples (the Hypothesis
# profile `fast`, tests/conftest.py). `make test` runs everything at full strength, as CI does.
test-fast: venv
	env -u DATABASE_URL $(VENV)/bin/pytest -m "not slow" -n $(FAST_WORKERS) --dist worksteal -q \
	  --hypothesis-profile=fast $(PYTEST_ARGS)

lint: venv typecheck
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: venv
	$(VENV)/bin/mypy

test-sqlite: venv
	@echo "== tests on SQLite"
	env -u DATABASE_URL $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

# The emulator tests touch no database; the PostgreSQL pass runs everything else.
test-postgres: venv
	@if TEST_DATABASE_URL=$(TEST_DATABASE_URL) scripts/postgres-check; then \
	  echo "== tests on PostgreSQL"; \
	  DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not emulator and not standalone" $(PYTEST_ARGS); \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "PostgreSQL is unreachable at $(TEST_DATABASE_URL): failing, as CI requires it" >&2; exit 1; \
	else \
	  echo "!! PostgreSQL unreachable at $(TEST_DATABASE_URL): PostgreSQL tests NOT run" >&2; \
	fi

# The PostgreSQL suite again with every fast-SQL trick off (src/fleetwatch/fastsql/README.md),
# over the packages whose tests store and read through the tricks (ORM_TESTS; the connector and
# browser suites reach the same writers and pages through them):
# the ORM path must pass too, so a Django upgrade that breaks a trick has a tested fallback.
test-postgres-orm: venv
	@if TEST_DATABASE_URL=$(TEST_DATABASE_URL) scripts/postgres-check; then \
	  echo "== tests on PostgreSQL with FLEETWATCH_FAST_SQL=false"; \
	  FLEETWATCH_FAST_SQL=false DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadgroup -m "not emulator and not standalone" $(ORM_TESTS) $(PYTEST_ARGS); \
	elif [ "$${CI:-}" = "true" ]; then \
	  echo "PostgreSQL is unreachable at $(TEST_DATABASE_URL): failing, as CI requires it" >&2; exit 1; \
	else \
	  echo "!! PostgreSQL unreachable at $(TEST_DATABASE_URL): PostgreSQL ORM-path tests NOT run" >&2; \
	fi

format: venv
	$(VENV)/bin/ruff format src tests bench
	$(VENV)/bin/ruff check --fix src tests bench

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
