# Two commands do all the set-up on a fresh machine:
#   make scan   — create .venv on first use, install banscan, scan this machine
#   make test   — create .venv, install banscan with test tools, PySpark and system packages
#                 (PostgreSQL for the server's database tests, Java for Spark), run the suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
ARGS   ?=

.PHONY: scan test lint typecheck bench system-deps clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,spark]'
	@touch $@

scan: $(VENV)/.installed
	$(VENV)/bin/banscan scan $(ARGS)

system-deps:
	@scripts/install-system-deps
	@scripts/ensure-postgres

test: $(VENV)/.installed system-deps
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n auto --dist loadfile

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests bench
	$(VENV)/bin/ruff format --check src tests bench

typecheck: $(VENV)/.installed
	$(VENV)/bin/mypy

bench: $(VENV)/.installed
	$(PY) bench/bench_scan.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
