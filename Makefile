# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run    create the environment if missing, migrate, seed, serve on 127.0.0.1:8000
#   make test   the whole suite on SQLite, then the db-marked tests on PostgreSQL
#               (when TOLLHOUSE_TEST_POSTGRES_URL is set; CI sets it)

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

export LITELLM_LOCAL_MODEL_COST_MAP := True

.PHONY: run test inspector test-sqlite test-postgres lint contracts bench clean

$(STAMP): requirements.lock requirements-embed.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-embed.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/tollhouse db upgrade
	$(BIN)/tollhouse serve

INSPECTOR := tests/inspector/node_modules/.bin/mcp-inspector

test: inspector test-sqlite test-postgres

# The MCP Inspector (a real third-party client), pinned with integrity hashes in
# tests/inspector/package-lock.json; its tests skip without npm outside CI.
inspector:
	@if [ -x $(INSPECTOR) ]; then :; \
	elif command -v npm >/dev/null 2>&1; then cd tests/inspector && npm ci --no-audit --no-fund --loglevel=error; \
	else echo "SKIPPED: npm not found; the MCP Inspector tests will skip"; fi

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

# The cost of governance, beside a plain MCP server (needs wrk); writes bench/results/gateway.md.
bench: $(STAMP)
	$(BIN)/python bench/gateway.py --write

clean:
	rm -rf $(VENV) .tollhouse .pytest_cache .ruff_cache tests/inspector/node_modules
