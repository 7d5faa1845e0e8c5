# Two commands do everything, setting up on first use (idempotent: later calls reuse .venv):
#   make repro   the whole pipeline (dvc repro), leaves reports/index.html
#   make test    the test suite (make test-fast: the unit tests only, a few minutes)
VENV ?= .venv
export PATH := $(abspath $(VENV))/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

# torch is installed before the package so the CPU/GPU choice is ours, not pip's: where nvidia-smi sees a GPU,
# the default PyPI build (CUDA); elsewhere the pinned CPU-capable release. Override: make repro TORCH='torch==X'
TORCH ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo torch || echo torch==2.13.0)

# What the tests start for real: Chromium (the report's browser test), SLURM and munge (the sweep's single-node
# cluster). Where a command is missing, its Debian package is installed (apt-get, as root or with sudo).
SYSTEM_DEPS := chromium:chromium slurmctld:slurm-wlm slurmd:slurm-wlm munged:munge

.PHONY: setup repro test test-fast system-deps clean-env
setup: $(VENV)/.ready

$(VENV)/.ready: pyproject.toml
	@test -x $(VENV)/bin/python || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "$(TORCH)"
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	@touch $@

repro: setup
	dvc repro
	@echo "report: reports/index.html (and reports/report.md)"

system-deps:
	@missing=$$(for dep in $(SYSTEM_DEPS); do PATH="$$PATH:/usr/sbin:/sbin" command -v $${dep%%:*} >/dev/null || \
	  echo $${dep#*:}; done | sort -u); \
	if [ -n "$$missing" ]; then \
	  if ! command -v apt-get >/dev/null; then echo "install" $$missing "(the tests start them)" >&2; exit 1; fi; \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); echo "installing the Debian packages the tests start:" $$missing; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq $$missing >/dev/null; \
	fi

# Test files run on one worker per core (pytest-xdist; a file's tests stay together, so they share its fixtures);
# PYTEST_ARGS='-n 0' runs them in one process. pytest exits 5 when it collects no test: say so and fail, rather
# than pass on nothing.
test: setup system-deps
	@python -m pytest -n auto --dist loadfile $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$rc

# The unit tests only: no end-to-end dvc run, no service, nothing over about 20 s (markers in pyproject.toml).
test-fast: setup
	@python -m pytest -n auto --dist loadfile -m "not e2e and not slow" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; fi; exit $$rc

clean-env:
	rm -rf $(VENV)
