# Every target makes the virtual environment when it is missing, so a fresh clone needs only
# python3 (>= 3.11) and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# Two test processes (pytest-xdist): most of the suite's time is waiting (heartbeat timeouts,
# process and Ray start-ups, the browser), not computing. The Ray tests stay in one of them
# (`loadgroup`, see tests/conftest.py). `make test PYTEST_PARALLEL=` runs the suite in one process.
PYTEST_PARALLEL ?= -n 2 --dist loadgroup

.PHONY: demo test bench lint clean browser bench-tools

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The report tests open the page in Debian's chromium; install it when missing (root, as on CI).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1 \
	  || echo "make: chromium could not be installed; the browser tests will skip"; }

# The ingest benchmark's floor is a ripgrep scan; install it when missing (root, as on CI).
bench-tools:
	@command -v rg >/dev/null 2>&1 || { \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep) >/dev/null 2>&1 \
	  || echo "make: ripgrep could not be installed; the ingest benchmark skips its floor ratio"; }

demo: $(STAMP)
	$(BIN)/logscan synth -o demo/full_log.txt
	$(BIN)/logscan ingest demo/full_log.txt -o demo/tables
	@echo "demo: incident log   demo/full_log.txt"
	@echo "demo: ground truth   demo/full_log.txt.truth.json and .schedule.json (the story as fault schedules)"
	@echo "demo: tables         demo/tables/ (manifest.json + one Parquet file per table)"
	@echo "demo: report         demo/report.html (open it in a browser; works offline)"
	@echo "demo: replay         the incident's fault schedule, from the tables, against the corrected engine:"
	$(BIN)/logscan replay demo/tables --save-schedule demo/incident.schedule.json
	$(BIN)/logscan report demo/tables -o demo/report.html  # with the replay's outcome

test: $(STAMP) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL)

bench: $(STAMP) bench-tools
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/parallel.py
	$(BIN)/python bench/engine.py

lint: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) demo .pytest_cache
