# StreamScore — every step a fresh machine needs is here; nothing is done by hand.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run demo up down status test lint unit bench bench-quick clean

install: $(STAMP)
	$(BIN)/python -m infra install

# Re-run pip only when pyproject.toml changes: torch alone is several GB (CUDA build from PyPI).
# -qq: errors only; setuptools' notes about editable installs are not the user's business.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -qq -e ".[dev,examples]"
	touch $(STAMP)

# The main job: bring everything up and run the live demo.
run: install
	$(BIN)/streamscore demo

up: install
	$(BIN)/streamscore up

down:
	$(BIN)/streamscore down

status:
	$(BIN)/streamscore status

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Sets up, lints, and runs every test against real Kafka, Redis and Triton.
test: install lint
	$(BIN)/python -m infra install --tests
	$(BIN)/pytest -q

unit: $(STAMP)
	$(BIN)/pytest -q -m "not integration"

bench: install
	$(BIN)/python -m bench

bench-quick: install
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
