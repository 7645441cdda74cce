# One obvious command per habit. `make run` and `make test` do all set-up themselves (scripts/setup.sh).
VENV := .venv
PY := $(VENV)/bin/python
CAMSVC := $(VENV)/bin/camsvc

.PHONY: setup run serve simulate test test-fast lint fmt docs bench bench-sweep bench-vqd bench-fleet bench-alerts clean docker

setup:
	./scripts/setup.sh

run: setup ## the service with the simulated Dien Bich fleet on SQLite
	$(CAMSVC) demo

simulate: setup
	$(CAMSVC) simulate

# Test modules run on 3 workers (pytest-xdist, one module per worker at a time so module fixtures stay
# whole): most tests wait on real streams and clocks rather than the CPU, so 3 fit on 2 cores.
TEST_WORKERS ?= 3

test: setup lint ## lint, then the whole suite, integration and browser tests included
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: setup
	$(PY) -m pytest -q -m "not slow and not browser"

lint: setup
	$(VENV)/bin/ruff format --check camsvc tests
	$(VENV)/bin/ruff check camsvc tests
	$(VENV)/bin/mypy camsvc

fmt: setup
	$(VENV)/bin/ruff format camsvc tests
	$(VENV)/bin/ruff check --fix camsvc tests

docs: setup ## docs/configuration.md and config/camsvc.example.yaml from camsvc/config.py
	$(PY) -m camsvc.config_docs

bench: bench-sweep bench-vqd bench-fleet bench-alerts

bench-sweep: setup
	$(CAMSVC) bench sweep
bench-vqd: setup
	$(CAMSVC) bench vqd
bench-fleet: setup
	$(CAMSVC) bench fleet
bench-alerts: setup
	$(CAMSVC) bench alerts

docker:
	./docker/build.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
