VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.setup-stamp
SCENARIO ?= customer_service_retail

.PHONY: setup chat test test-fast lint fmt clean

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

setup: $(STAMP)

## README command 1: set up and chat with the retail agents on the local model.
chat: $(STAMP)
	$(BIN)/voxrelay chat --scenario $(SCENARIO)

## README command 2: set up and run the whole test suite (CI runs this).
test: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not real"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
