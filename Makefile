# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TSTAMP := $(VENV)/.installed-test

.PHONY: run test bench fuzz hostile package lint typecheck clean

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

# every dissector with at least CSLAB_FUZZ_EXAMPLES (default 100,000) Hypothesis examples
fuzz: $(TSTAMP)
	CSLAB_FUZZ_EXAMPLES=$${CSLAB_FUZZ_EXAMPLES:-100000} QT_QPA_PLATFORM=offscreen \
		$(BIN)/python -m pytest -q tests/fuzz

# every server kind behind its Wire against hostile clients; a tally table and hostile-results.json
hostile: $(TSTAMP)
	$(BIN)/python -m tests.hostile -o hostile-results.json

# a one-folder app in dist/cslab/ (PyInstaller); run it as dist/cslab/cslab. The .desktop
# file, AppStream data and icons to install with it are in packaging/ and resources/icons/.
package: $(TSTAMP)
	$(BIN)/python -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
		packaging/cslab.spec
	@du -sh dist/cslab | sed 's/\t/  /'

lint: $(TSTAMP)
	$(BIN)/ruff check lab ui tests
	$(BIN)/mypy lab ui

typecheck: lint

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist
