# make reproduce:  every numbered notebook at the default profile (commits-worthy outputs)
# make test:       unit tests + the regression part (nbval replay of every notebook at the smoke
#                  profile, CPU-independent cells only; smoke results vs tests/regression/reference);
#                  not the slow ci_stage checks; first make lint (ruff format --check, ruff check); it ends
#                  with its 30 slowest tests (issue 50: where the test command's time goes)
# make regression: the regression part alone, with its ci_stage checks (CI runs it under
#                  ATEN_CPU_CAPABILITY=default)
# make train-tests: the unit tests that train (marker `trains`); CI reruns them under seed shifts
#                  (DML_SEED_OFFSET=k) and another float path
# Both create .venv first when it is missing (scripts/setup_env.sh).
VENV     := .venv
PY       := $(VENV)/bin/python
NOTEBOOKS = $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
NBVAL     = --nbval-lax --nbval-sanitize-with tests/regression/sanitize.cfg --nbval-cell-timeout 900

.PHONY: env reproduce carry checks ledger audit test lint unit train-tests regression baselines references lab lab-test bench clean

env: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml scripts/setup_env.sh
	bash scripts/setup_env.sh

# make reproduce JOBS=2: each plan's runs on a local pool of 2 worker processes (same numbers);
# DML_EXECUTOR=dask:tcp://HOST:PORT or slurm:PARTITION sends them further (dml_utils/executors.py)
reproduce: env
	$(PY) scripts/run_notebooks.py --profile default $(if $(JOBS),--jobs $(JOBS)) $(NOTEBOOKS)

# make carry: after a change of run code, republish with an audit of N runs per plan (default 3): where they
# retrain bit for bit, the runs of the code the results were made by carry forward (results/code_lineage.json)
carry: env
	DML_CARRY=$(or $(N),3) $(PY) scripts/run_notebooks.py --profile default $(NOTEBOOKS)

# make checks: the second checks (notebook 06 on Fashion-MNIST), kept in results/checks/ and read by make reproduce
checks: env
	$(PY) scripts/run_notebooks.py --check fashion-mnist notebooks/06_one_protocol.ipynb

# make ledger PROFILE=full NOTEBOOKS=06 [JOBS=2 | EXECUTOR=dask:tcp://HOST:PORT] [BUDGET_MIN=120] [SLICE=0/2]:
# train the runs the run ledger (results/ledger/) lacks, in each plan's order, filing each at once; stops cleanly
# at the budget, and the same command continues (on this machine or another; slices split the runs)
NB_PATHS = $(foreach n,$(NOTEBOOKS),$(or $(wildcard $(n)),$(wildcard notebooks/$(n)_*.ipynb),$(n)))
ledger: env
	DML_LEDGER=fill $(if $(BUDGET_MIN),DML_LEDGER_BUDGET_MIN=$(BUDGET_MIN)) $(if $(SLICE),DML_LEDGER_SLICE=$(SLICE)) \
	$(PY) scripts/run_notebooks.py --profile $(or $(PROFILE),full) $(if $(JOBS),--jobs $(JOBS)) \
	$(if $(EXECUTOR),--executor $(EXECUTOR)) $(or $(NB_PATHS),notebooks/06_one_protocol.ipynb)

# make audit N=10 PROFILE=full NOTEBOOKS=06: train again N of each plan's runs read from the ledger (drawn with
# seed 0, printed) and compare each with its record; writes under build/, publishes nothing
audit: env
	DML_LEDGER=audit DML_LEDGER_AUDIT=$(or $(N),10) $(PY) scripts/run_notebooks.py --profile $(or $(PROFILE),full) \
	-p profile $(or $(PROFILE),full) $(or $(NB_PATHS),notebooks/06_one_protocol.ipynb)

test: env lint
	$(VENV)/bin/pytest $(NBVAL) -m "not ci_stage" --durations=30 tests

lint: env
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

unit: env
	$(VENV)/bin/pytest tests --ignore=tests/regression --ignore=tests/test_regression.py

train-tests: env
	$(VENV)/bin/pytest -m trains tests --ignore=tests/regression --ignore=tests/test_regression.py

regression: env
	$(VENV)/bin/pytest $(NBVAL) tests/regression tests/test_regression.py

baselines: env
	$(PY) scripts/run_notebooks.py --profile smoke --baseline $(NOTEBOOKS)

references: env
	$(PY) scripts/regression_reference.py $(NOTEBOOKS)

# make lab PORT=8890 IP=0.0.0.0: JupyterLab from .venv, as root too, no browser without a display;
# prints the URL with its token and the SSH tunnel line (scripts/lab.sh)
PORT ?= 8888
IP   ?= 127.0.0.1
lab: env
	PORT=$(PORT) IP=$(IP) bash scripts/lab.sh

# make lab-test: the Lab in headless Chromium (Debian's chromium, Playwright without its browser download)
lab-test: env
	bash scripts/lab_test_deps.sh
	$(VENV)/bin/pytest -v tests/test_lab.py

bench: env
	$(PY) benchmarks/bench_pair_training.py
	$(PY) benchmarks/bench_evaluation.py
	$(PY) benchmarks/bench_image_loading.py
	$(PY) benchmarks/bench_batch_hard.py
	$(PY) benchmarks/bench_hdml.py
	$(PY) benchmarks/bench_executors.py
	$(PY) benchmarks/bench_roofline.py
	$(PY) benchmarks/profile_runs.py

clean:
	rm -rf build
