# The README's commands. Each creates the environment in .venv/ first if it is missing or stale.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
PYTEST_ARGS ?=

.PHONY: env test demo demo-det demo-cls bench clean-env

env:
	@bash tools/setup_env.sh

test: env
	$(PYTHON) -m pytest $(PYTEST_ARGS) tests

clean-env:
	rm -rf $(VENV)
