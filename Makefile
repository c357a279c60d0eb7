# Two commands do everything on a fresh machine with Python 3.11+:
#   make run    install pinned dependencies, generate the demo company, materialize the graph
#   make test   run the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: install run test ui lint format bench schema lock clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is needed"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: install
	$(BIN)/sme-platform demo

# One worker per core, at most 4 (each test file on one worker: its module fixtures run once).
test: install
	$(BIN)/python -m pytest -n auto --maxprocesses 4 --dist loadfile

ui: install
	$(BIN)/sme-platform ui

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(BIN)/python benchmarks/ingest.py --scale small

# Regenerate schemas/sources.schema.json after changing the models of sources.yaml.
schema: install
	$(BIN)/sme-platform schema

# Re-pin after changing dependencies in pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^sme.platform' > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) data/warehouse.duckdb data/demo .dagster_home
