#!/usr/bin/env bash
# GPU suite (make bench-gpu): TensorRT-RTX and ONNX Runtime CUDA/TensorRT next to the CPU backends,
# with host-to-device / compute / device-to-host times; the efficiency target on a GPU is 0.95
# for FP16. Exports a TensorRT-RTX engine when tensorrt_rtx is installed; see suite_common.sh.
source "$(dirname "${BASH_SOURCE[0]}")/suite_common.sh"

WORK=${MC_BENCH_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/${ARCH}-${PATCH}-gpu}
TRT_FLAGS=()
if "$BIN/python" -c "import tensorrt_rtx" 2>/dev/null; then TRT_FLAGS=(--trt); fi
prepare_model "${TRT_FLAGS[@]}"
run_bench "gpu-${ARCH}-${PATCH}${MC_BENCH_TAG:-}" --backends tensorrt,onnxruntime-cuda,onnxruntime,openvino \
    --precisions fp16,fp32,int8 --batch-sizes "${MC_BENCH_GPU_BATCH_SIZES:-1,8,16,32}" \
    --target-speedup 12 --target-efficiency 0.95
