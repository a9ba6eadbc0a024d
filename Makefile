# Two entry points: `make run` (the main job) and `make test` (the test suite).
# Each creates a local virtual environment in .venv and installs what it needs.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export CERTNN_DATA ?= $(abspath ../shared/data)
export CERTNN_BENCHMARKS ?= $(abspath ../shared/benchmarks)
# small matrix products run fastest (and timings stay stable) on one BLAS thread
export OPENBLAS_NUM_THREADS ?= 1

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m certnn main

test: $(STAMP)
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -q -n 2 -p no:cacheprovider tests

bench: $(STAMP)
	$(PY) benchmarks/mnist_train.py

clean:
	rm -rf $(VENV) runs .pytest_cache
