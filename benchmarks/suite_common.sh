# Shared steps of the benchmark suites (sourced by cpu_suite.sh and gpu_suite.sh).
#
# synthetic patches at PATCH px -> short fine-tune of ARCH with --freeze partial -> mc-export
# fp32/fp16/int8 (+ TensorRT-RTX engine when asked) -> mc-bench JSON + Markdown in RESULTS.
# Each step is skipped when its output already exists, so an interrupted suite resumes, and a
# trained model is reused across suites. ResNet101 at 674 px costs seconds per tile on two cores
# (forward and backward), so the defaults keep the fine-tune and the export small: the suite
# measures the engine, not the model's accuracy. Every knob is an environment variable:
#
#   MC_BENCH_ARCH (resnet101)  MC_BENCH_PATCH (674)  MC_BENCH_WORK (~/.microcalc/bench-work/ARCH-PATCH, outside the repo)
#   MC_BENCH_TRAIN_N (192)  MC_BENCH_CALIB_N (48)  MC_BENCH_PARITY_N (40)  MC_BENCH_EPOCHS (3)  MC_BENCH_LR (1e-3)
#   MC_BENCH_BATCH_SIZES (1,8)  MC_BENCH_REPEATS (3)  MC_BENCH_WARMUP (1)  MC_BENCH_BASELINE_TILES (4)
#   MC_BENCH_RESULTS (benchmarks/results)  MC_BENCH_TAG (suffix of the report names)
#   MC_BENCH_MAMMOGRAM (a DICOM to scan; default: mc-bench's synthetic 4096x3328 mammogram)
#
# Quick check of the whole chain on a small model:
#   MC_BENCH_ARCH=smallcnn MC_BENCH_PATCH=128 MC_BENCH_TRAIN_N=160 MC_BENCH_EPOCHS=3 MC_BENCH_LR=2e-3 \
#     MC_BENCH_RESULTS=/tmp/mc-bench-check bash benchmarks/cpu_suite.sh

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${MC_BENCH_BIN:-.venv/bin}
ARCH=${MC_BENCH_ARCH:-resnet101}
PATCH=${MC_BENCH_PATCH:-674}
WORK=${MC_BENCH_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/${ARCH}-${PATCH}}
RESULTS=${MC_BENCH_RESULTS:-benchmarks/results}
TRAIN_N=${MC_BENCH_TRAIN_N:-192}
CALIB_N=${MC_BENCH_CALIB_N:-48}
PARITY_N=${MC_BENCH_PARITY_N:-40}
EPOCHS=${MC_BENCH_EPOCHS:-3}
LR=${MC_BENCH_LR:-1e-3}
BATCH_SIZES=${MC_BENCH_BATCH_SIZES:-1,8}
REPEATS=${MC_BENCH_REPEATS:-3}
WARMUP=${MC_BENCH_WARMUP:-1}
BASELINE_TILES=${MC_BENCH_BASELINE_TILES:-4}
REAL_PATCHES=../shared/data/real_patches

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

prepare_model() {  # $1: extra mc-export flags (e.g. --trt)
    mkdir -p "$WORK" "$RESULTS"
    if [ ! -d "$WORK/train" ]; then
        log "synthetic training patches: $TRAIN_N at ${PATCH}px"
        "$BIN/mc-synth" patches "$WORK/train.tmp" --n "$TRAIN_N" --patch-size "$PATCH" --seed 1
        mv "$WORK/train.tmp" "$WORK/train"
    fi
    if [ ! -d "$WORK/parity" ]; then
        log "synthetic parity patches: $PARITY_N at ${PATCH}px (held out)"
        "$BIN/mc-synth" patches "$WORK/parity.tmp" --n "$PARITY_N" --patch-size "$PATCH" --seed 2
        mv "$WORK/parity.tmp" "$WORK/parity"
    fi
    if [ ! -f "$WORK/run/checkpoint.pt" ]; then
        log "fine-tune $ARCH ($EPOCHS epoch(s), --freeze partial)"
        "$BIN/mc-train" "$WORK/train" --out "$WORK/run" --arch "$ARCH" --patch-size "$PATCH" --freeze partial \
            --epochs "$EPOCHS" --lr "$LR" --batch-size 8 --seed 0 --quiet
    fi
    if [ ! -f "$WORK/bundle/bundle.json" ]; then
        log "export fp32/fp16/int8 $*"
        "$BIN/mc-export" --checkpoint "$WORK/run/checkpoint.pt" --out "$WORK/bundle" --fp16 --int8 \
            --calib "$WORK/train" --calib-size "$CALIB_N" "$@"
    fi
}

host_kind() {  # the CPU family and its best INT8 kernels, as the report's machine block names them
    "$BIN/python" -c "from microcalc.bench.machine import cpu_report; print(cpu_report()['host_kind'])"
}

run_bench() {  # $1: report name; then extra mc-bench flags
    local name=$1; shift
    local inputs=(--patches "$WORK/parity")
    if [ -f "$REAL_PATCHES/calc.png" ]; then inputs+=(--patches "$REAL_PATCHES"); fi
    if [ -n "${MC_BENCH_MAMMOGRAM:-}" ]; then inputs+=(--mammogram "$MC_BENCH_MAMMOGRAM"); fi
    log "mc-bench -> $RESULTS/$name.{json,md}"
    "$BIN/mc-bench" --model "$WORK/bundle" "${inputs[@]}" --batch-sizes "$BATCH_SIZES" --repeats "$REPEATS" \
        --warmup "$WARMUP" --baseline-tiles "$BASELINE_TILES" --out "$RESULTS/$name.json" \
        --markdown "$RESULTS/$name.md" "$@"
}
