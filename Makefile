# Two commands on a fresh machine (Python 3.11 and make): `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
INSTALL := $(PIP) install -q

.PHONY: help demo test bench lint format regen-pages clean

help:
	@echo "make demo    set up .venv, crawl the bundled offline sample into data/archive.db, show what was archived"
	@echo "make test    set up .venv with the test extras and run the whole suite"
	@echo "make bench   run the benchmarks in bench/ (prints ratios, asserts nothing)"
	@echo "make lint    ruff and mypy"

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11 or newer is needed, found " + sys.version'
	$(PYTHON) -m venv $(VENV)

# pip compiles what it installs, but not this checkout's own modules (an editable install): compiled before each run
# (only what changed), or every process compiles them again where PYTHONDONTWRITEBYTECODE is set, as on CI (0.4 s of
# each crawl's start there, and the suite starts hundreds).
COMPILE := $(BIN)/python -m compileall -q aggregator spiders pipelines tests

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(INSTALL) -e .
	touch $@

# One pip run for the test set-up (a second one re-resolves everything: half a minute), which holds the demo's too.
$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(INSTALL) -e '.[test]'
	touch $(VENV)/.installed $@

demo: $(VENV)/.installed
	$(COMPILE)
	$(BIN)/aggregator crawl --all --offline
	$(BIN)/aggregator articles list --limit 200

test: $(VENV)/.installed-test
	$(COMPILE)
	$(BIN)/python -m pytest

bench: $(VENV)/.installed-test
	$(COMPILE)
	$(BIN)/python bench/extract.py
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/dates.py
	$(BIN)/python bench/cleanup.py
	$(BIN)/python bench/api.py
	$(BIN)/python bench/store.py
	$(BIN)/python bench/reextract.py
	$(BIN)/python bench/startup.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

regen-pages: $(VENV)/.installed-test
	$(BIN)/python -m tests.regenerate_pages

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
