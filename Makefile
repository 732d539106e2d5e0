# mlkit course: set-up, batch run, tests. `make help` lists the targets.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JOBS   ?= 2
# pytest-xdist workers for the tests. A worker waits about 40% of its time (servers starting, real-time
# load and alert phases, the browser): two workers kept 2 cores about 60% busy, so a third fills the gaps
# (benchmarks/RESULTS.md, "Tests").
TEST_JOBS ?= 3

.PHONY: help all setup prometheus run run-fast test test-fast browser lab exercises clean-notebooks benchmarks clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

all: setup prometheus run  ## set everything up (Prometheus too, where it can), run every lesson in batch, print the summary

setup: $(STAMP)  ## create .venv with the pinned, tested dependency set (requirements.lock; uv, else pip)

$(STAMP): requirements.lock pyproject.toml scripts/install.py
	@test -n "$(PYTHON)" || { echo "error: no python3 found; install Python 3.11" >&2; exit 1; }
	$(PYTHON) scripts/install.py $(VENV)
	@touch $@

prometheus:  ## install Prometheus, Alertmanager and promtool for lesson 05 (apt-get, root or sudo); says so when it cannot
	bash scripts/install_system.sh prometheus

run: setup  ## execute every lesson with papermill (runs/latest/) and print the summary
	$(BIN)/mlkit run -o runs/latest

run-fast: setup  ## the same in fast mode, two at a time
	$(BIN)/mlkit run --fast -j $(JOBS) -o runs/fast

browser: setup  ## install Chromium (browser tests) and Prometheus (lesson 05) (Debian/Ubuntu, root or sudo)
	bash scripts/install_browser.sh

test: setup browser  ## the whole test suite: ruff, unit, notebooks, nbval, browser (slow work first, three workers)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --no-loadscope-reorder $(PYTEST_EXTRA)

test-fast: setup  ## ruff and the unit tests not marked slow (no notebooks, browser, servers under load): 1-2 min
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile -m "not slow" tests $(PYTEST_EXTRA)

lab: setup  ## open JupyterLab at the course folder (notebooks/, exercises/, solutions/ one click away)
	$(BIN)/jupyter lab --ServerApp.root_dir=.

exercises: setup  ## regenerate exercises/ from solutions/
	$(BIN)/mlkit exercises build

clean-notebooks:  ## strip outputs and execution counts before committing
	$(BIN)/python scripts/clean_notebooks.py

benchmarks: setup browser  ## measure set-up, course time, imports, training, serving, drift, tests: benchmarks/RESULTS.md
	$(BIN)/python benchmarks/run_all.py

clean:  ## remove the virtual environment and run outputs
	rm -rf $(VENV) runs
