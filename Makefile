# zhihui — two commands: `make demo` runs a live demo command centre, `make test` runs every check.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test lint test-sqlite test-postgres bench serve clean browser web

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

demo: $(BIN)/.installed
	$(BIN)/zhihui demo

serve: $(BIN)/.installed
	$(BIN)/zhihui serve

lint: $(BIN)/.installed
	$(BIN)/ruff check .

# Debian's chromium for the browser tests (tests/web); installed once, when missing.
browser:
	scripts/ensure-browser.sh

# Rebuild the committed front-end vendor files from npm (only when bumping Leaflet or Preact/htm).
web:
	scripts/build-web.sh

test-sqlite: $(BIN)/.installed browser
	ZHIHUI_TEST_DB=sqlite $(BIN)/python -m pytest -q

test-postgres: $(BIN)/.installed browser
	ZHIHUI_TEST_DB=postgresql ZHIHUI_TEST_PG_URL="$$(scripts/ensure-postgres.sh)" $(BIN)/python -m pytest -q

# ruff, then the whole suite on SQLite, then again on PostgreSQL.
test: lint test-sqlite test-postgres

bench: $(BIN)/.installed
	$(BIN)/python bench/intake.py --db sqlite
	ZHIHUI_TEST_PG_URL="$$(scripts/ensure-postgres.sh)" $(BIN)/python bench/intake.py --db postgresql

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache *.egg-info
