#!/usr/bin/env bash
# GPU suite (make bench-gpu): CUDA PyTorch (fp32/fp16/bf16: the fast path where TensorRT is absent),
# the bundle's TensorRT / TensorRT-RTX engine when tensorrt_rtx is installed, and ONNX Runtime CUDA
# when onnxruntime-gpu is. Timed as trtexec: MC_BENCH_WARMUP_MS (200) of warm-up, then at least
# MC_BENCH_DURATION (3) seconds per batch size with MC_BENCH_IN_FLIGHT (3) batches in flight, with the
# host-to-device / compute / device-to-host split from CUDA events, at batches 1, 8, 32 and 64.
# The export's --max-batch is the largest batch measured, so no engine profile refuses one (mc-bench
# stops with a one-line error before measuring if a bundle built earlier has a smaller profile).
# A worklist folder (MC_BENCH_WORKLIST, *.dcm) is scanned end to end with MC_BENCH_DECODE_WORKERS
# (cores - 2) decoding processes. The CPU backends are left to cpu_suite.sh (MC_BENCH_GPU_BACKENDS).
# Targets (issue 10, H100, ResNet101 at 674 px): FP16 >= 2,000 patches/s, >= 40 mammograms/s end to
# end, pipeline efficiency >= 0.9 over the worklist; the Markdown marks each met or MISSED.
export MC_BENCH_BATCH_SIZES=${MC_BENCH_GPU_BATCH_SIZES:-1,8,32,64}
source "$(dirname "${BASH_SOURCE[0]}")/suite_common.sh"

WORK=${MC_BENCH_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/${ARCH}-${PATCH}-gpu}
MAX_BATCH=$(tr ',' '\n' <<<"$BATCH_SIZES" | sort -n | tail -1)
EXPORT_FLAGS=(--max-batch "$MAX_BATCH" --opt-batch "$MAX_BATCH")
if "$BIN/python" -c "import tensorrt_rtx" 2>/dev/null; then EXPORT_FLAGS+=(--trt); fi
prepare_model "${EXPORT_FLAGS[@]}"
SCAN=()
if [ -n "${MC_BENCH_WORKLIST:-}" ]; then
    SCAN=(--worklist "$MC_BENCH_WORKLIST" --decode-workers "${MC_BENCH_DECODE_WORKERS:-$(($(nproc) - 2))}")
fi
run_bench "gpu-${ARCH}-${PATCH}${MC_BENCH_TAG:-}" \
    --backends "${MC_BENCH_GPU_BACKENDS:-torch-cuda,tensorrt,onnxruntime-cuda}" \
    --precisions "${MC_BENCH_GPU_PRECISIONS:-fp16,bf16,fp32,int8}" \
    --duration "${MC_BENCH_DURATION:-3}" --warmup-ms "${MC_BENCH_WARMUP_MS:-200}" \
    --in-flight "${MC_BENCH_IN_FLIGHT:-3}" "${SCAN[@]}" --target-speedup 12 --target-efficiency 0.9 \
    --target-fp16-patches-per-s "${MC_BENCH_TARGET_FP16:-2000}" --target-images-per-s "${MC_BENCH_TARGET_IMAGES:-40}"
