# `make run` and `make test` are the whole set-up after a clone: each creates or reuses .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DURATION ?=
HTTP ?=

.PHONY: run test lint bench clean

$(STAMP): requirements.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/dora run --status-line $(if $(DURATION),--duration $(DURATION)) $(if $(HTTP),--http $(HTTP))

test: $(STAMP)
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check dora tests
	$(BIN)/mypy dora
	$(BIN)/lint-imports --no-logo

bench: $(STAMP)
	$(BIN)/python -m dora.cli.bench_core
	$(BIN)/dora bench --markets 50 --cycles 20

clean:
	rm -rf $(VENV) build *.egg-info
