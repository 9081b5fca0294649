# Two commands for a new user: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test lint bench check-system venv translations db demo clean serve-prod worker load faults

check-system:
	@$(PYTHON) scripts/check_system.py

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"

# Reinstall when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e . --group dev
	@touch $@

venv: check-system $(VENV)/.installed translations

translations: $(VENV)/.installed
	@$(BIN)/pybabel -q compile -d lms/translations

db: venv
	$(FLASK) db upgrade
	$(FLASK) courses load

demo: db
	$(FLASK) demo

run: demo
	$(FLASK) run --host $(HOST) --port $(PORT)

test: venv
	$(BIN)/pytest

bench: venv
	$(BIN)/python bench/run.py

# Production: gunicorn with gunicorn.conf.py (set LMS_ENV=production and the secrets first).
serve-prod: venv
	$(BIN)/gunicorn -c gunicorn.conf.py wsgi:app

# A job worker (needs LMS_REDIS_URL); run as many as you like, on any server.
worker: venv
	$(FLASK) jobs worker

# Load test: LOAD_USERS (200) simulated users for LOAD_MINUTES (5) against gunicorn + PostgreSQL.
load: venv
	$(BIN)/python scripts/load/run.py

# Fault runs: PostgreSQL restart under load, an RQ worker killed mid-batch, a duplicate submission.
faults: venv
	$(BIN)/python scripts/faults/run.py

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
