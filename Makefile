# Customer Vault: the README's two commands are `make run` and `make test`.
PY ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
BIN := $(VENV)/bin
export VAULT_DATABASE_URL ?= sqlite+aiosqlite:///var/vault.db

.PHONY: setup run test lint typecheck bench clean

$(BIN)/vault: pyproject.toml uv.lock
	test -x $(UV) || ($(PY) -m venv $(VENV) && $(VENV)/bin/pip install --quiet uv)
	UV_COMPILE_BYTECODE=1 $(UV) sync --frozen
	touch $(BIN)/vault

setup: $(BIN)/vault

## make run: set up, initialize var/ (keys + SQLite at head), load demo data once, serve on 127.0.0.1:8000
run: setup
	$(BIN)/vault init
	test -f var/.demo-loaded || ($(BIN)/vault demo && touch var/.demo-loaded)
	$(BIN)/vault serve

## make test: set up and run the tests (SQLite; PostgreSQL too when VAULT_TEST_DATABASE_URL is set)
test: setup
	$(BIN)/pytest

lint: setup
	$(BIN)/ruff check src tests migrations
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	$(BIN)/pytest tests/bench -o addopts="" -p no:cacheprovider -s

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
