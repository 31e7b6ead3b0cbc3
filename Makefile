# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    create the environment if missing, migrate, seed, serve on 127.0.0.1:8000
#   make test   the whole suite on SQLite, then the db-marked tests on PostgreSQL
#               (when TOLLHOUSE_TEST_POSTGRES_URL is set; CI sets it)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test test-sqlite test-postgres lint contracts bench clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tollhouse db upgrade
	$(BIN)/tollhouse serve

test: test-sqlite test-postgres

test-sqlite: $(STAMP)
	$(BIN)/python -m pytest

test-postgres: $(STAMP)
	@if [ -n "$$TOLLHOUSE_TEST_POSTGRES_URL" ]; then \
		TOLLHOUSE_TEST_BACKEND=postgres $(BIN)/python -m pytest -m db; \
	elif [ "$$CI" = "true" ]; then \
		echo "CI needs TOLLHOUSE_TEST_POSTGRES_URL for the PostgreSQL run" >&2; exit 1; \
	else \
		echo "SKIPPED: the PostgreSQL run of the db-marked tests (set TOLLHOUSE_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres)"; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

contracts: $(STAMP)
	$(BIN)/lint-imports

lock:
	uv pip compile pyproject.toml --extra dev --extra llm --generate-hashes --python-version 3.11 -o requirements.lock

clean:
	rm -rf $(VENV) .tollhouse .pytest_cache .ruff_cache
