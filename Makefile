# Two commands set everything up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of torch: a plain `torch` request would pull gigabytes of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=

.PHONY: test demo install lint clean bench-cpu bench-gpu

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

demo: install
	bash scripts/demo.sh

lint: install
	$(VENV)/bin/ruff check microcalc tests

bench-cpu: install
	bash benchmarks/cpu_suite.sh

bench-gpu: install
	bash benchmarks/gpu_suite.sh

clean:
	rm -rf $(VENV) demo_out .pytest_cache
