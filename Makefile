# Two commands after cloning: `make demo` (the main job) and `make test`.
# Every target installs what it needs first, from the pinned files in this repository.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The uv that installs the venv is the one pyproject.toml pins (Dependabot bumps it there).
UV_VERSION := $(shell sed -n 's/^ *"uv==\([0-9.]*\)",*$$/\1/p' pyproject.toml)
# main.py silences jsii's Node 20 end-of-life banner for `npx cdktf ...` by itself; the test
# process imports cdktf directly (tests/infra/conftest.py), before main.py can, so it is set
# here too. CHECKPOINT_DISABLE: no version/telemetry call from cdktf-cli or terraform.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CHECKPOINT_DISABLE := 1
# cdktf-cli draws its progress with ink, which redraws a spinner ~12 times a second, also into
# a pipe or a log (150-200 lines per synth). With CI set, ink's is-ci check makes it print
# finished lines only; GitHub Actions sets CI=true itself.
CDKTF := CI=1 npx --no-install cdktf

.PHONY: setup setup-runtime setup-infra demo pipeline test lint synth checkov clean bench bench-smoke bench-sam

# Three install profiles from pyproject.toml, one venv (.venv):
#   setup          everything: [project] dependencies + the infra and dev extras, and cdktf-cli
#   setup-infra    what a synth needs: dependencies + infra extra, and cdktf-cli (CI's plan job)
#   setup-runtime  what `python -m scripts` needs: dependencies only (CI's build and deploy jobs)
setup: $(VENV)/.installed node_modules/.installed
setup-infra: $(VENV)/.installed-infra node_modules/.installed
setup-runtime: $(VENV)/.installed-runtime

# $(1): the extras, $(2): more uv flags. A venv made for a smaller profile is completed in
# place (uv adds the missing packages), never rebuilt. The project itself is installed
# editable, without dependencies (they are the line before, pinned): that puts `layers` on
# $(VENV)/bin, running this checkout's code.
define venv_install
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python >= 3.11 is required: set PYTHON=python3.11")'
	test -n '$(UV_VERSION)' || { echo 'no "uv==X.Y.Z" pin found in pyproject.toml' >&2; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet $(2) --python $(PY) -r pyproject.toml $(1)
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps --editable .
	touch $@
endef

# Bytecode is compiled once at install: these machines set PYTHONDONTWRITEBYTECODE, and
# without it every synth would recompile the provider bindings it imports. The CI profiles
# skip it: compiling all 2,212 binding modules costs ~20 s, and a CI job imports ten of them once.
$(VENV)/.installed: pyproject.toml
	$(call venv_install,--extra infra --extra dev,--compile-bytecode)

$(VENV)/.installed-infra: pyproject.toml
	$(call venv_install,--extra infra)

$(VENV)/.installed-runtime: pyproject.toml
	$(call venv_install,)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# checkov pins its own dependency tree, which clashes with ours: it gets its own venv.
# tests/infra/test_checkov.py runs $(CHECKOV_VENV)/bin/checkov (or $$CHECKOV_BIN).
CHECKOV_VENV := .venv-checkov
CHECKOV_VERSION := 3.3.30
checkov: $(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION)

$(CHECKOV_VENV)/.installed-$(CHECKOV_VERSION):
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check checkov==$(CHECKOV_VERSION)
	touch $@

# The main job on the embedded default: no AWS account needed.
demo: setup
	$(PY) -m scripts demo

# The whole pipeline on this machine against the local sandbox (moto, no AWS account):
# build, `cdktf deploy local` with real terraform, scripted deploy, a table. The sandbox
# stays up for `status`, `history`, `rollback`... (`python -m scripts local down` stops it);
# state in .sandbox/. Run it twice to see the cache hit and the no-change deploy.
# ARGS=--fresh starts over.
pipeline: setup
	TF_PLUGIN_MIRROR="$$(.ci/find-tf-mirror)" $(PY) -m scripts pipeline $(ARGS)

synth: setup
	$(CDKTF) synth

lint: setup
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The terraform end-to-end tests need a local provider mirror; found once here, passed in.
# Four workers on two cores: most of the suite waits (on terraform, on update windows, on
# subprocesses), so the tests overlap well; one file per worker keeps module fixtures (a
# moto server, an adopted legacy world) in one process. TEST_WORKERS=0 runs in-process.
TEST_WORKERS ?= 4
test: lint checkov
	TF_PLUGIN_MIRROR="$$(.ci/find-tf-mirror)" $(PY) -m pytest $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

# Benchmarks (bench/run.py): the full run writes bench/results.json; the smoke run is what
# tests/test_bench_smoke.py runs. AWS SAM CLI, the peer baseline, gets its own venv from the
# host Python (its build method then needs no container), pinned here.
SAM_VENV := bench/.work/sam-venv
SAM_VERSION := 1.170.0
bench-sam: $(SAM_VENV)/.installed-$(SAM_VERSION)

$(SAM_VENV)/.installed-$(SAM_VERSION):
	rm -rf $(SAM_VENV)
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check aws-sam-cli==$(SAM_VERSION) 2>&1 | grep -v "is ignored: it is neither" || true
	$(SAM_VENV)/bin/sam --version
	touch $@

bench: setup bench-sam
	$(PY) -m bench --sam-venv $(SAM_VENV)

bench-smoke: setup
	$(PY) -m bench --smoke

clean:
	rm -rf cdktf.out build .local-store .pipeline .sandbox .pytest_cache .mypy_cache .ruff_cache
