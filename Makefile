# `make run` and `make test` are the whole set-up after a clone: each creates or reuses .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DURATION ?=
HTTP ?=
IMAGE ?= dora:local
# the chaos suite's long version (`make test` runs one seed, three kills, once)
SEEDS ?= 1 2 3
KILLS ?= 6
RUNS ?= 2
HANDOVERS ?= 5
LEASE_MS ?= 4000

.PHONY: run test lint bench chaos soak-cash image clean

$(STAMP): requirements/runtime.txt requirements/local.txt requirements/dev.txt setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
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
	$(BIN)/cfn-lint deploy/dora.yaml

chaos: $(STAMP)
	DORA_CHAOS_SEEDS="$(SEEDS)" DORA_CHAOS_KILLS=$(KILLS) DORA_CHAOS_RUNS=$(RUNS) \
		DORA_CHAOS_HANDOVERS=$(HANDOVERS) DORA_CHAOS_LEASE_MS=$(LEASE_MS) \
		DORA_CHAOS_OUTAGES="hang refuse" \
		$(BIN)/python -m pytest tests/chaos -s -o timeout=1800

soak-cash: $(STAMP)
	DORA_SOAK=1 $(BIN)/python -m pytest tests/bot/test_cash_ledger_e2e.py -q -p no:logging

bench: $(STAMP)
	$(BIN)/python -m dora.cli.bench_core
	$(BIN)/dora bench --markets 50 --cycles 20

# The production image (needs a Docker engine; deploy/README.md has the push and deploy steps).
image:
	docker build -f deploy/Dockerfile -t $(IMAGE) .

clean:
	rm -rf $(VENV) build *.egg-info
