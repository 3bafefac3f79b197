# Two commands on a fresh clone: `make run` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install index run chat test lint clean eval bench bench-quick

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

# The chat assistant and its JSON API on http://127.0.0.1:7860 (QA_HOST / QA_PORT to change).
run: index
	$(BIN)/python app.py --index index

# The terminal prompt instead of the web app.
chat: index
	$(BIN)/qa --index index

test: install
	$(BIN)/ruff check src tests app.py bench
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check src tests app.py bench
	$(BIN)/ruff format --check src tests app.py bench

clean:
	rm -rf index index-office .pytest_cache .ruff_cache

# Full evaluation with the usual-recipe baselines and the ablation table: eval/results/. Then the
# second gold set, office documents of other kinds than the seeds (tests/data/clean): eval/results-office/.
eval: install
	$(BIN)/qa eval --corpus seeds --index index --ablation
	$(BIN)/qa eval --gold eval/gold-office.jsonl --corpus tests/data/clean --index index-office \
		--out eval/results-office

# Benchmarks from the seeds to a million passages (about 20 minutes), `ask` beside `search`, the HTTP load test
# (20 clients x 50 requests on /api/search), then the folder and Qdrant stores side by side at seed size
# and 10k passages: about half an hour in all, bench/results/. `bench-quick`: the same up to 100k passages
# with a small load, into bench/results-quick/.
bench: install
	$(BIN)/python bench/bench.py --out bench/results
	$(BIN)/python bench/ask.py --out bench/results
	$(BIN)/python bench/load.py --out bench/results
	$(BIN)/python bench/stores.py --out bench/results

bench-quick: install
	$(BIN)/python bench/bench.py --quick --out bench/results-quick
	$(BIN)/python bench/ask.py --out bench/results-quick
	$(BIN)/python bench/load.py --quick --out bench/results-quick
	$(BIN)/python bench/stores.py --sizes seed --out bench/results-quick
