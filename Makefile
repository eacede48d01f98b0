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

test: lint  ## ruff, mypy (strict), then the tests on throwaway embedded PostgreSQL and MongoDB servers
	@$(PY) -m pytest $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff and the type checker (mypy --strict on etl, models, dags, ingest)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/mypy

down: $(STAMP)  ## stop the embedded PostgreSQL and MongoDB servers
	@$(PY) -m etl down

clean: down  ## stop services and delete .local (all embedded data)
	rm -rf .local
