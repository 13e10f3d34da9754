# PilotMatch: `make run` serves the API with demo data; `make test` runs everything CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint format bench evaluate screenshots clean

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

# The whole suite runs on SQLite files and, at the same time, every test that touches the database runs again on
# a throw-away PostgreSQL cluster the tests start (tests marked backend_independent run once: models, indexes,
# ranking, the browser tests and the contract fuzzer, whose PostgreSQL-specific cases test_input_contract covers
# on both). The two runs share the machine's cores (much of each is waiting on servers and subprocesses); each
# has its own temporary folder, the PostgreSQL run's report is printed after the SQLite run's, and both must pass.
# System packages first: PostgreSQL's binaries, Chromium for the browser tests, a CJK font.
TEST_TMP ?= /tmp/pilotmatch-tests-$(shell id -u)
test: install
	scripts/ensure-system-packages.sh
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p $(TEST_TMP)
	PILOTMATCH_TEST_POSTGRES=1 $(BIN)/pytest -q -p no:cacheprovider -m "not backend_independent" --durations=15 \
		--basetemp=$(TEST_TMP)/postgresql > $(TEST_TMP)/postgresql.log 2>&1 & postgres=$$!; \
	$(BIN)/pytest -q --durations=25 --basetemp=$(TEST_TMP)/sqlite; sqlite=$$?; \
	wait $$postgres; pg=$$?; \
	echo "--- the PostgreSQL run:"; cat $(TEST_TMP)/postgresql.log; \
	test $$sqlite -eq 0 -a $$pg -eq 0

# Screenshots of the main pages for the README, taken by the browser tests.
screenshots: install
	scripts/ensure-system-packages.sh
	PILOTMATCH_SCREENSHOT_DIR=docs/screenshots $(BIN)/pytest -q tests/web/test_web_browser.py tests/web/test_apply_browser.py

lint: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

evaluate: install
	$(BIN)/python scripts/evaluate.py

bench: install
	$(BIN)/python scripts/bench.py

clean:
	rm -rf $(VENV) data indexes/*.faiss indexes/*.json
