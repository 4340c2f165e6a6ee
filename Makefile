# Two commands set everything up on a fresh machine: `make test` and `make demo`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# The CPU build of torch: a plain `torch` request would pull gigabytes of CUDA packages.
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# HOST_MODE=noamx runs the suite as on a CPU without AMX (README "Testing"): oneDNN is capped at
# AVX-512 VNNI (no AMX, no AVX512-BF16) and mc-train's --amp auto, which reads the cap, stays fp32.
HOST_MODE ?= default
NOAMX_ENV := ONEDNN_MAX_CPU_ISA=AVX512_CORE_VNNI
HOST_ENV := $(if $(filter noamx,$(HOST_MODE)),$(NOAMX_ENV),$(if $(filter default,$(HOST_MODE)),,$(error HOST_MODE must be default or noamx)))
# `make fuzz`: 100,000 mutants by default; e.g. FUZZ_ARGS="--seconds 1800" for a timed run.
FUZZ_ARGS ?= --inputs 100000

.PHONY: test test-noamx demo install lint clean bench-cpu bench-gpu bench-spacing bench-froc bench-real fuzz

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel
	$(PIP) install "$(TORCH_SPEC)"
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

test: install
	$(HOST_ENV) $(PY) -m pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

# The tests that train or score a trained model (marker host_sensitive), in the no-AMX mode.
test-noamx: install
	$(MAKE) test HOST_MODE=noamx PYTEST_ARGS="-m host_sensitive $(PYTEST_ARGS)"

demo: install
	bash scripts/demo.sh

lint: install
	$(VENV)/bin/ruff check microcalc tests benchmarks scripts

# Mutation fuzzer of the DICOM reader (tests/fuzz/fuzz.py): prints inputs/s, crashes and hangs, keeps each
# failing input in tests/fuzz/regressions/ (replayed by `make test`), writes fuzz-report.json.
fuzz: install
	$(PY) tests/fuzz/fuzz.py $(FUZZ_ARGS) --report fuzz-report.json

bench-cpu: install
	bash benchmarks/cpu_suite.sh

bench-gpu: install
	bash benchmarks/gpu_suite.sh

# A model trained at 0.07 mm on held-out breasts seen by 0.05-0.1 mm detectors, resampled and not (mc-froc).
bench-spacing: install
	bash benchmarks/spacing_suite.sh

# Issue 9's recipe: ResNet18 224 px trained within 15 min on a CPU, FROC on held-out synthetic mammograms.
bench-froc: install
	bash benchmarks/froc_seeds.sh

# Issue 21: the small-real-patch recipe (smallcnn, 60 px) trained on the real fold of ../shared/data/real60_train
# and scored on its held-out patients, 3 seeds, mean and sd (BENCH_REAL_ARGS="--mode noamx": a CPU without AMX).
BENCH_REAL_WORK ?= bench_real_out
BENCH_REAL_ARGS ?=
bench-real: install
	$(PY) benchmarks/real60_bench.py $(BENCH_REAL_WORK) $(BENCH_REAL_ARGS)

clean:
	rm -rf $(VENV) demo_out bench_real_out .pytest_cache fuzz-report.json
