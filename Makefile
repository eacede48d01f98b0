# Two commands matter: `make demo` and `make test`. Everything else is a helper they call.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test install lint down clean help

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check uv
	@$(VENV)/bin/uv pip install --quiet --python $(PY) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

demo: $(STAMP)  ## start embedded services, migrate, generate data and run the whole pipeline
	@$(PY) -m etl demo

test: $(STAMP)  ## run the test suite against a throwaway embedded PostgreSQL and montydb store
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff
	@$(VENV)/bin/ruff check .

down: $(STAMP)  ## stop the embedded PostgreSQL server
	@$(PY) -m etl down

clean: down  ## stop services and delete .local (all embedded data)
	rm -rf .local
