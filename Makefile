# Every target makes the virtual environment when it is missing, so a fresh clone needs only
# python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/logscan synth -o demo/full_log.txt
	$(BIN)/logscan ingest demo/full_log.txt -o demo/tables
	@echo "demo: incident log   demo/full_log.txt"
	@echo "demo: ground truth   demo/full_log.txt.truth.json"
	@echo "demo: tables         demo/tables/ (manifest.json + one Parquet file per table)"

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/engine.py

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) demo .pytest_cache
