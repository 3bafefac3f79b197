# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install index run test lint clean eval

# torch==2.13.0 first: the CPU build is on disk; any other torch request pulls GBs of CUDA.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# Incremental: does nothing when seeds/ is unchanged.
index: install
	$(BIN)/qa index --corpus seeds --index index

run: index
	$(BIN)/qa --index index

test: install
	$(BIN)/ruff check src tests
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

clean:
	rm -rf index .pytest_cache .ruff_cache

# Full evaluation with the usual-recipe baselines and the ablation table: eval/results/.
eval: install
	$(BIN)/qa eval --corpus seeds --index index --ablation
