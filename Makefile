# Two entry points: `make demo` and `make test`. Both install what is missing and are quick
# the second time (a stamp file tracks pyproject.toml; the TimescaleDB build is cached).
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint install db-up db-down clean

$(STAMP): pyproject.toml
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "hazwatch needs Python 3.11")'
	@$(PY) -c 'import ensurepip' 2>/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv)
	@# tep-studio (the demo plant's process model) compiles C against the Python headers.
	@$(PY) -c 'import sysconfig, os, sys; sys.exit(not os.path.exists(sysconfig.get_paths()["include"] + "/Python.h"))' || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-dev gcc)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --progress-bar off -e '.[dev]'
	@touch $@

install: $(STAMP)
	$(BIN)/hazwatch install

demo: install
	$(BIN)/hazwatch demo

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -n 3 --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

db-up: install
	$(BIN)/hazwatch db up

db-down: $(STAMP)
	$(BIN)/hazwatch db down

clean:
	-$(BIN)/hazwatch db down
	rm -rf $(VENV) var
