# `make test` builds .venv from requirements.txt on a fresh machine, then runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: test

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

test: $(VENV)/.installed
	$(PY) -m pytest -q NeuralNetworkTests.py tests
