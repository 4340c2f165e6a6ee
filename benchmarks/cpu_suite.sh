#!/usr/bin/env bash
# CPU suite (make bench-cpu): every CPU backend x fp32/fp16/int8, the PyTorch eager baseline,
# parity and the end-to-end scan of a synthetic 4096x3328 mammogram. ~15 min for ResNet101 at
# 674 px on a 2-core machine once the model is trained; see suite_common.sh for the knobs.
source "$(dirname "${BASH_SOURCE[0]}")/suite_common.sh"

prepare_model
# one report per host kind (e.g. intel-xeon-amx, amd-epyc-vnni): benchmarks/results_table.py lists them all
run_bench "cpu-${ARCH}-${PATCH}-$(host_kind)${MC_BENCH_TAG:-}" --backends onnxruntime,openvino --precisions fp32,fp16,int8 \
    --target-speedup 12 --target-efficiency 0.9
