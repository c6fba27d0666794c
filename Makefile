# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test bench lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TSTAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(STAMP)

run: $(STAMP)
	$(BIN)/cslab gui

test: $(TSTAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest -q

bench: $(TSTAMP)
	@command -v wrk >/dev/null || echo "bench: wrk not found (sudo apt-get install wrk);" \
		"the HTTP table falls back to a slower aiohttp client load generator"
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m tests.perf

lint: $(TSTAMP)
	$(BIN)/ruff check lab ui tests
	$(BIN)/mypy lab ui

typecheck: lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
