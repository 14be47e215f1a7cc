# `make demo` and `make test` are all a fresh clone needs: each creates .venv when missing and
# installs the project with the exact pins of constraints.txt before running.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
export OMP_NUM_THREADS ?= 1

.PHONY: demo test test-all lint lint-imports bench bench-bo bench-zo bench-hpo bench-service bench-fed bench-cli bench-constrained bench-mo bench-priors clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# One stamp per set of extras: .installed-dev, .installed-dev,bench, ...
# torch goes first and alone so that pip takes the CPU build pinned in constraints.txt.
$(VENV)/.installed-%: pyproject.toml constraints.txt | $(PY)
	$(PIP) install -c constraints.txt torch
	$(PIP) install -c constraints.txt -e ".[$*]"
	touch $@

demo: $(VENV)/.installed-dev
	$(VENV)/bin/asktell demo

test: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2

test-all: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n 2 -m "slow or not slow"

lint: $(VENV)/.installed-dev lint-imports
	$(VENV)/bin/ruff check asktell surrogates acquisition loops tests benchmarks tutorials
	$(VENV)/bin/mypy

# import-linter reads the package from disk, and pyproject's package-dir maps the component folders
# into it: lint a copy laid out as installed (the contracts are in pyproject.toml).
IMPORTS := build/imports
lint-imports: $(VENV)/.installed-dev
	rm -rf $(IMPORTS) && mkdir -p $(IMPORTS)
	cp -R asktell $(IMPORTS)/asktell
	cp -R surrogates $(IMPORTS)/asktell/surrogates
	cp -R acquisition $(IMPORTS)/asktell/acquisition
	cp -R loops $(IMPORTS)/asktell/loops
	cp -R benchmarks $(IMPORTS)/benchmarks
	cd $(IMPORTS) && PYTHONPATH=. $(CURDIR)/$(VENV)/bin/lint-imports $(CURDIR)/pyproject.toml --no-cache

bench-bo: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/global_bo.py $(ARGS)

bench-zo: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/zeroth_order.py $(ARGS)

bench-hpo: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/hpo.py $(ARGS)

# the HTTP service under 1, 4 and 16 client processes, against Optuna's RDB storage (ARGS=--quick)
bench-service: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/service.py $(ARGS)

# FZooS against FedZO, FedProx, SCAFFOLD-I/II (ARGS=--quick for a small version)
bench-fed: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/federated.py $(ARGS)

# asktell's constrained BayesOpt (qLogNEI, CONFIG) vs Optuna GP/TPE, Ax, a BoTorch loop and Sobol on
# BoTorch's constrained problems (ARGS=--quick for a small version; a rerun resumes the recorded runs)
bench-constrained: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/constrained.py $(ARGS)

# asktell's multi-objective BayesOpt vs Optuna GP/TPE/NSGA-II, Ax, a BoTorch qLogNEHVI loop and Sobol on
# BoTorch's multi-objective problems, by hypervolume (ARGS=--quick for a small version; a rerun resumes)
bench-mo: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/multiobjective.py $(ARGS)

# asktell's BayesOpt with a good, a misleading and no prior (piBO, ColaBO) vs Optuna TPE with the prior's
# mode enqueued and random draws from the prior, by regret (ARGS=--quick for a small version; a rerun resumes)
bench-priors: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/priors.py $(ARGS)

# each shell command's wall time against a bare interpreter (tell: goal within 0.3 s)
bench-cli: $(VENV)/.installed-dev
	$(PY) benchmarks/cli_speed.py $(ARGS)

bench: bench-bo bench-zo bench-hpo bench-service bench-cli

# every benchmark's tables again from its committed results, running nothing (figures and JSON into
# build/bench-report); the tables match those in the README and benchmarks/results/*_report.md
.PHONY: bench-report
BENCH_REPORT := build/bench-report
RESULTS := benchmarks/results
bench-report: $(VENV)/.installed-dev,bench
	$(PY) benchmarks/global_bo.py --report-only $(RESULTS)/bo/all/global_bo.json --out $(BENCH_REPORT)
	$(PY) benchmarks/zeroth_order.py --report-only $(RESULTS)/zeroth_order.json --out $(BENCH_REPORT)
	$(PY) benchmarks/hpo.py --report-only $(RESULTS)/hpo/hpo.json --out $(BENCH_REPORT)
	$(PY) benchmarks/service.py --report-only $(RESULTS)/service.json
	$(PY) benchmarks/federated.py --tag full --out $(BENCH_REPORT) \
		--report-only $(RESULTS)/federated_runs_full_a.jsonl $(RESULTS)/federated_runs_full_b.jsonl

clean:
	rm -rf $(VENV) build *.egg-info
