#!/usr/bin/env bash
# CPU suite (make bench-cpu): every CPU backend x fp32/fp16/int8, the PyTorch eager baseline,
# parity and the end-to-end scan of a synthetic 4096x3328 mammogram. ~15 min for ResNet101 at
# 674 px on a 2-core machine once the model is trained; see suite_common.sh for the knobs.
source "$(dirname "${BASH_SOURCE[0]}")/suite_common.sh"

prepare_model
run_bench "cpu-${ARCH}-${PATCH}${MC_BENCH_TAG:-}" --backends onnxruntime,openvino --precisions fp32,fp16,int8 \
    --target-speedup 12 --target-efficiency 0.9
