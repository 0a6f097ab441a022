# The two commands a fresh machine needs: `make demo` and `make test`.
# Both create .venv from the package registries on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: help venv test lint typecheck protos protos-check unit demo bench docs inspector clean

help:
	@echo "make demo      run the whole system on the local E*TRADE emulator"
	@echo "make test      lint, type-check, check generated code, run the test suite"
	@echo "make bench     run the benchmarks under bench/ and print their figures"
	@echo "make protos    regenerate protos/ from the .proto files"
	@echo "make docs      regenerate the settings table in docs/configuration.md"
	@echo "make inspector check etrade-mcp with the MCP Inspector's CLI, both eras (needs npx)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required (found %s); run: make PYTHON=python3.11" % sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-logo

typecheck: $(STAMP)
	$(BIN)/mypy

protos: $(STAMP)
	$(BIN)/python -m protos.generate

protos-check: $(STAMP)
	$(BIN)/python -m protos.generate --check

unit: $(STAMP)
	$(BIN)/python -m pytest

test: lint typecheck protos-check unit

demo: $(STAMP)
	$(BIN)/python -m emulator.demo

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

docs: $(STAMP)
	$(BIN)/python -m cli.config_reference --write

# Not part of `make test`: it downloads the pinned Inspector (and Node 22 when the local one is older).
inspector: $(STAMP)
	$(BIN)/python -m tests.e2e.inspector_check

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
