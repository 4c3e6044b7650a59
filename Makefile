# Istio Egress Labs: set up the environment, run the labs, test the helper library.
#
#   make venv                     create .venv with everything the notebooks need
#   make labs [BACKEND=sim] [LABS="01 02"] [OUT=build/labs]
#                                 run the lab notebooks end to end (JUnit in $(OUT)/junit.xml)
#   make test                     lint and unit tests
#   make doctor [BACKEND=kube]    check that a backend can run the labs
#   make lab [JUPYTER_ARGS=...]   JupyterLab on the notebooks (make jupyter is the same)

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
BACKEND ?= auto
OUT ?= build/labs
LABS ?=
API ?=
JUPYTER_ARGS ?=
# No news feed and no update check: the labs open straight on the notebook, with no popup over it.
JUPYTER_QUIET := --LabApp.news_url=None --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

BIN := $(VENV)/bin
# Rebuilt only when the dependencies or the package metadata change.
STAMP := $(VENV)/.installed
KERNEL_NAME := labkit
KERNEL_DISPLAY := Istio Egress Labs (labkit)

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv labs list doctor test lint typecheck lab jupyter clean distclean

help:
	@echo "Targets:"
	@echo "  venv       create $(VENV) (Python >= 3.10), install requirements and labkit, register the '$(KERNEL_NAME)' kernel"
	@echo "  labs       run the lab notebooks: BACKEND=auto|sim|kube|envoy (now: $(BACKEND)), LABS='01 02', OUT=$(OUT)"
	@echo "  list       list the labs"
	@echo "  doctor     check that BACKEND can run the labs"
	@echo "  lab        start JupyterLab on the notebooks (alias: jupyter); extra options in JUPYTER_ARGS"
	@echo "  test       lint, then run the tests"
	@echo "  lint       ruff check"
	@echo "  typecheck  mypy on lib/labkit (settings in pyproject.toml)"
	@echo "  clean      remove build output and caches; distclean also removes $(VENV)"

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: $(PYTHON) not found; install Python 3.10 or newer (or set PYTHON=...)" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || { \
		echo "error: $(PYTHON) is $$($(PYTHON) -V 2>&1); the labs need Python 3.10 or newer (set PYTHON=python3.X)" >&2; exit 1; }
	@$(PYTHON) -m venv $(VENV) || { \
		echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install python3-venv" >&2; exit 1; }
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -r requirements.txt
	$(BIN)/python -m pip install -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name $(KERNEL_NAME) --display-name "$(KERNEL_DISPLAY)"
	@touch $@

labs: venv
	$(BIN)/labkit run $(LABS) --backend $(BACKEND) --out $(OUT) $(if $(API),--api $(API))

list: venv
	$(BIN)/labkit list

doctor: venv
	$(BIN)/labkit doctor --backend $(BACKEND)

# Notebooks left on backend="auto" run on the simulator when no lab cluster answers.
# Jupyter refuses to run as root unless told to (common in containers and dev machines).
lab: venv
	$(BIN)/jupyter lab notebooks/ $$([ "$$(id -u)" = 0 ] && echo --allow-root) $(JUPYTER_QUIET) $(JUPYTER_ARGS)

jupyter: lab

lint: venv
	$(BIN)/ruff check lib tests notebooks scripts

typecheck: venv
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest

clean:
	rm -rf build .pytest_cache .ruff_cache lib/*.egg-info
	find lib tests -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
