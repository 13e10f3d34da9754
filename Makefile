# PilotMatch: `make run` serves the API with demo data; `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench evaluate clean

install: $(VENV)/.installed

# torch first, pinned to the CPU wheel on disk, so that nothing later resolves a CUDA build.
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

run: install
	$(BIN)/pilotmatch seed-demo
	$(BIN)/pilotmatch serve --host $(HOST) --port $(PORT)

# The whole suite runs twice: on SQLite files, then on a throw-away PostgreSQL cluster the tests start.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -q
	scripts/ensure-postgres.sh
	PILOTMATCH_TEST_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

evaluate: install
	$(BIN)/python scripts/evaluate.py

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) data indexes/*.faiss indexes/*.json
