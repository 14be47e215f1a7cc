# Every target creates .venv when missing and installs the project with the pinned constraints.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.installed-$(EXTRAS)
EXTRAS ?= dev
export OMP_NUM_THREADS ?= 2

.PHONY: demo test test-all lint bench bench-bo clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch is installed first and alone so that pip takes the CPU build pinned in constraints.txt.
$(STAMP): $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) install -c constraints.txt torch
	$(PIP) install -c constraints.txt -e ".[$(EXTRAS)]"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/asktell demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2

test-all: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check asktell surrogates acquisition loops tests benchmarks
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench-bo:
	$(MAKE) EXTRAS=dev,bench _bench-bo
_bench-bo: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/global_bo.py $(ARGS)

bench: bench-bo

clean:
	rm -rf $(VENV) build *.egg-info
