# One entry point for each chore. CI runs `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test test-fast check install bench clean

$(BIN)/smtp-profile: pyproject.toml
	scripts/install.sh $(PYTHON) $(VENV) ""

install: $(BIN)/smtp-profile

run: $(BIN)/smtp-profile  ## start the service on the embedded default (SQLite in ./var)
	$(BIN)/smtp-profile serve

test:  ## the whole suite: lint, types, unit, API, real SMTP servers, PostgreSQL, browser
	scripts/test.sh

test-fast:  ## lint, types and the tests that need no system packages
	scripts/test.sh --fast

check: $(BIN)/smtp-profile
	scripts/test.sh --check-only

bench:
	scripts/install.sh $(PYTHON) $(VENV) test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) var artifacts
