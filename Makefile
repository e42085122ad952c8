# dockyard — two commands on a fresh Debian 12 machine, as root:
#   make up     install everything (apt + PyPI into .venv) and run the main job
#   make test   run the checks and the whole test suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: up deps test check lint typecheck contracts unit bench clean

deps: $(STAMP)

$(STAMP): pyproject.toml scripts/install-deps.sh
	bash scripts/install-deps.sh "$(PYTHON)" "$(VENV)"
	touch $(STAMP)

up: deps
	bash scripts/up.sh

check: deps lint typecheck contracts

lint:
	$(VENV)/bin/ruff check src tests bench

typecheck:
	$(VENV)/bin/mypy src/dockyard

contracts:
	$(VENV)/bin/lint-imports --no-cache

test: check
	$(PY) -m pytest -n 2 --dist loadgroup -p no:cacheprovider $(PYTEST_ARGS)

unit: deps
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
