#!/usr/bin/env bash
# Verify every CUDA path of microcalc on a lent H100/H200 in three device calls (issue 10).
#
# Here, once, where pip can reach the registry (downloads the wheels the device image lacks, for
# its Python 3.12, and packs them into .gpu/call1..3, each small enough to travel with one call):
#   bash scripts/gpu_verify.sh pack
# (measured 2026-11-23: call1 45 MiB, call2 and call3 56 MiB each; openvino, 56.4 MiB, and
# tensorrt_rtx_cu13_libs, 90.7 MiB, travel in parts and are joined, checksum verified, on the device).
# Then three device calls, back to back while the machine stays warm (work lives in /tmp/mc-gpu):
#   1. carry [".gpu/call1"]: bash scripts/gpu_verify.sh install env tests data train report
#   2. carry [".gpu/call2"]: bash scripts/gpu_verify.sh install export bench report
#   3. carry [".gpu/call3"]: bash scripts/gpu_verify.sh install parity rtx report
# or `all` for every device stage in one go. Each stage logs to /tmp/mc-gpu/out/<stage>.log and
# its exit status to stages.tsv; a failed stage is recorded and the next one still runs. `report`
# copies results (JSON, Markdown, logs, a tarball of everything) into $OUT (at most 8 files).
# `--dry-run` prints every command that downloads, installs, computes or needs a GPU instead of
# running it; moving carried files about (spreading wheels over calls, joining parts) still runs,
# so tests/bench/test_gpu_scripts.py checks it for real.
#
# Stages:
#   install  unpack carried wheels (large ones arrive in parts over several calls), pip install
#            them and microcalc itself into /tmp/site (pip flags of .library/device/README.md)
#   env      nvidia-smi, torch/CUDA versions, compute capability, packages
#   tests    the GPU-marked tests (pytest -m gpu)
#   data     synthetic 674 px patches (train + 512 held out) and a worklist of 50 synthetic
#            4096x3328 mammograms, made by one mc-synth process per core
#   train    the reference ResNet101 at 674 px on the GPU (bf16, channels_last); AUC vs 0.97
#   export   FP32 / FP16 / INT8 ONNX, --max-batch 64 (covers every batch the suite measures)
#   bench    benchmarks/gpu_suite.sh: torch-cuda fp32/fp16/bf16 (+ TensorRT, ORT CUDA where present)
#            at batches 1/8/32/64, trtexec timing, worklist end to end with decoding in processes
#   parity   the exported ONNX FP32/FP16/INT8 variants against PyTorch on the 512 held-out patches
#   rtx      TensorRT-RTX on compute capability 9.0: build one FP16 engine, run it once, record what happens
#   report   results into $OUT
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
[ $# -gt 0 ] || { sed -n '2,12p' "$0"; exit 2; }

PY=${MC_GPU_PYTHON:-python3}
WORK=${MC_GPU_WORK:-/tmp/mc-gpu}          # survives between calls while the machine stays warm
SITE=${MC_GPU_SITE:-/tmp/site}
LOGS=$WORK/out
OUT=${OUT:-$WORK/OUT}
CORES=${MC_GPU_CORES:-$(nproc)}
TRAIN_N=${MC_GPU_TRAIN_N:-3200}
PARITY_N=${MC_GPU_PARITY_N:-512}
WORKLIST_N=${MC_GPU_WORKLIST_N:-50}
EPOCHS=${MC_GPU_EPOCHS:-10}
BATCHES=${MC_GPU_BATCH_SIZES:-1,8,32,64}
PACK=${MC_GPU_PACK_DIR:-.gpu}             # carried wheels: $PACK/call1..CALLS
CALLS=${MC_GPU_CALLS:-3}                  # calls the wheels spread over; onnxruntime-gpu (about 256 MB) would need 5 more
PACK_MIB=${MC_GPU_PACK_MIB:-56}           # per call: the working tree and the carry travel within 64 MiB
DECODERS=$((CORES > 2 ? CORES - 2 : 1))
# What the device image lacks (.library/device/KINDS.md), in the order they are needed: the first
# call's stages need the small ones; openvino (parity, call 3) and tensorrt-rtx (rtx, call 3) come in
# parts over the calls. "sdist:" marks a pure-Python source package built into a wheel here.
WHEELS=${MC_GPU_WHEELS:-"pydicom==3.0.2 pylibjpeg==2.1.0 pylibjpeg-openjpeg==2.6.0 pylibjpeg-rle==2.2.0
pylibjpeg-libjpeg==2.5.0 onnxconverter-common==1.16.0 openvino-telemetry==2025.2.0 openvino==2026.4.1
sdist:tensorrt_rtx_cu13==1.7.1.116 tensorrt_rtx_cu13_bindings==1.7.1.116 tensorrt_rtx_cu13_libs==1.7.1.116"}

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
run() {  # run a command, or print it under --dry-run
    if [ "$DRY" = 1 ]; then printf '+'; printf ' %q' "$@"; printf '\n'; return 0; fi
    "$@"
}
stage() {  # stage NAME: run stage_NAME, log it, record its exit status, go on
    local name=$1 rc
    mkdir -p "$LOGS"
    log "stage $name"
    if [ "$DRY" = 1 ]; then "stage_$name"; rc=$?; else "stage_$name" >"$LOGS/$name.log" 2>&1; rc=$?; fi
    printf '%s\t%s\t%s\n' "$name" "$rc" "$(date -u +%FT%TZ)" >>"$LOGS/stages.tsv"
    [ "$rc" = 0 ] || { FAILED=$((FAILED + 1)); log "stage $name FAILED (rc $rc), see $LOGS/$name.log"; }
    return 0
}
mc() { run env PYTHONPATH="$SITE:$PWD" "$SITE/bin/$1" "${@:2}"; }
need() { [ "$DRY" = 1 ] || [ -e "$1" ] || { echo "missing $1: $2" >&2; return 1; }; }

# ---- here ------------------------------------------------------------------------------------
stage_pack() {  # download what the device lacks, then spread it over $PACK/call1..CALLS
    run mkdir -p "$PACK/wheels"
    local exclude
    exclude=$(git rev-parse --git-path info/exclude)  # .git is a file in a worktree
    if [ "$PACK" = .gpu ] && ! grep -qx '/.gpu/' "$exclude" 2>/dev/null; then
        run sh -c "mkdir -p \"\$(dirname $exclude)\" && echo /.gpu/ >> $exclude"
    fi
    for spec in $WHEELS; do
        if [ "${spec#sdist:}" != "$spec" ]; then
            run "$PY" -m pip wheel --no-deps -w "$PACK/wheels" "${spec#sdist:}" || return 1
            continue
        fi
        run "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
            --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform manylinux_2_34_x86_64 \
            --platform manylinux_2_35_x86_64 -d "$PACK/wheels" "$spec" || return 1
    done
    spread "$PACK"
}

in_order() {  # the files of DIR, those of each WHEELS entry together and in its order, then the rest
    local dir=$1 spec name f
    for spec in $WHEELS; do
        name=${spec#sdist:}
        name=$(tr 'A-Z-' 'a-z_' <<<"${name%%==*}")
        for f in $(ls "$dir"); do [ "${f%%-*}" = "$name" ] && echo "$f"; done
    done
    for f in $(ls "$dir"); do
        case " $(echo $WHEELS | tr 'A-Z-' 'a-z_') " in *" ${f%%-*}=="*|*":${f%%-*}=="*) ;; *) echo "$f" ;; esac
    done
}

spread() {  # split wheels over PACK_MIB into parts (+ .sha256), then first fit into call1..CALLS in order
    local root=$1 limit=$((PACK_MIB << 20)) used=() f size call placed
    for f in "$root"/wheels/*.whl; do
        [ -e "$f" ] || continue
        if [ "$(stat -c %s "$f")" -gt "$limit" ]; then
            (cd "$root/wheels" && sha256sum "$(basename "$f")" >"$(basename "$f").sha256") || return 1
            split -b "$limit" -d "$f" "$f.part" && rm "$f" || return 1
        fi
    done
    rm -rf "$root"/call*
    for call in $(seq 1 "$CALLS"); do used[call]=0; done
    for f in $(in_order "$root/wheels"); do
        size=$(stat -c %s "$root/wheels/$f") placed=0
        for call in $(seq 1 "$CALLS"); do
            if [ $((used[call] + size)) -le "$limit" ]; then
                used[call]=$((used[call] + size)) placed=1
                mkdir -p "$root/call$call" && cp "$root/wheels/$f" "$root/call$call/" || return 1
                break
            fi
        done
        [ "$placed" = 1 ] || { echo "$f does not fit in $CALLS calls of $PACK_MIB MiB (MC_GPU_CALLS)" >&2; return 1; }
    done
    du -sh "$root"/call* 2>/dev/null
    return 0
}

# ---- on the device machine -------------------------------------------------------------------
stage_install() {  # parts that arrived in earlier calls wait in $WORK/wheels until a wheel is whole
    local sum whl
    run mkdir -p "$WORK/wheels" "$SITE/bin"
    for dir in "$PACK"/call*; do [ -d "$dir" ] && run cp -r "$dir/." "$WORK/wheels/"; done
    for sum in "$WORK"/wheels/*.whl.sha256; do
        [ -e "$sum" ] || continue
        whl=${sum%.sha256}
        [ -e "$whl" ] && continue
        cat "$whl".part* >"$whl.tmp" && mv "$whl.tmp" "$whl"
        if (cd "$WORK/wheels" && sha256sum -c --quiet "$(basename "$sum")"); then
            rm -f "$whl".part*
        else
            rm -f "$whl"; echo "$(basename "$whl"): parts still missing, waiting for a later call"
        fi
    done
    run sh -c "! ls $WORK/wheels/*.whl >/dev/null 2>&1 || $PY -m pip install -q --no-index --no-deps --no-compile \
--no-cache-dir --upgrade --target $SITE $WORK/wheels/*.whl"
    run "$PY" -m pip install -q --no-index --no-deps --no-build-isolation --no-compile --upgrade --target "$SITE" .
    run ln -sf "$(command -v "$PY")" "$SITE/bin/python"
}

stage_env() {
    run nvidia-smi
    run env PYTHONPATH="$SITE:$PWD" "$PY" -c "import torch, platform; print(platform.python_version(), \
'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0), \
'cc', torch.cuda.get_device_capability(0), 'cores', __import__('os').cpu_count())"
    run env PYTHONPATH="$SITE:$PWD" "$PY" -c "import microcalc.engine.backends.registry as r; \
[print(*s, sep=' | ') for s in r.backend_status()]"
    run "$PY" -m pip list
}

stage_tests() {
    run env PYTHONPATH="$SITE:$PWD" "$PY" -m pytest -m gpu -n 0 -q -rs tests/engine/backends \
        --junitxml "$LOGS/gpu-tests.xml"
}

synth_patches() {  # synth_patches DIR N SEED: N patches made by CORES mc-synth processes, then merged
    local dir=$1 n=$2 seed=$3 per=$(( ($2 + CORES - 1) / CORES )) pids=() i cls
    [ "$DRY" = 0 ] && [ -d "$dir" ] && return 0
    run rm -rf "$dir.parts" "$dir.tmp"
    for i in $(seq 0 $((CORES - 1))); do
        mc mc-synth patches "$dir.parts/$i" --n "$per" --patch-size 674 --seed $((seed * 1000 + i)) &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i" || return 1; done
    for cls in cluster normal; do
        run mkdir -p "$dir.tmp/$cls"
        for i in $(seq 0 $((CORES - 1))); do  # the same file names come from every seed: prefix the process
            run sh -c "for f in $dir.parts/$i/$cls/*; do mv \"\$f\" $dir.tmp/$cls/$i-\$(basename \"\$f\"); done"
        done
    done
    run mv "$dir.tmp" "$dir"
    run rm -rf "$dir.parts"
}

stage_data() {
    run mkdir -p "$WORK/bench"
    synth_patches "$WORK/bench/train" "$TRAIN_N" 1 || return 1
    synth_patches "$WORK/bench/parity" "$PARITY_N" 2 || return 1
    [ "$DRY" = 0 ] && [ -d "$WORK/worklist" ] && return 0
    run rm -rf "$WORK/worklist.tmp"
    run mkdir -p "$WORK/worklist.tmp"
    local pids=() i
    for i in $(seq 1 "$WORKLIST_N"); do  # CORES at a time; the folder appears only when complete
        mc mc-synth mammogram "$WORK/worklist.tmp/mammo-$i.dcm" --rows 4096 --cols 3328 --seed "$i" &
        pids+=($!)
        if [ ${#pids[@]} -ge "$CORES" ]; then wait "${pids[0]}" || return 1; pids=("${pids[@]:1}"); fi
    done
    for i in "${pids[@]}"; do wait "$i" || return 1; done
    run mv "$WORK/worklist.tmp" "$WORK/worklist"
}

stage_train() {
    need "$WORK/bench/train" "run the data stage first (or the machine went cold)" || return 1
    mc mc-train "$WORK/bench/train" --out "$WORK/bench/run" --arch resnet101 --patch-size 674 --device cuda \
        --amp bf16 --channels-last --optimizer adamw --lr 1e-3 --weight-decay 1e-4 --batch-size 32 \
        --epochs "$EPOCHS" --patience 4 --workers "$DECODERS" --seed 0 || return 1
    run "$PY" -c "import json, sys; auc = json.load(open(sys.argv[1])).get('auc'); \
print(f'validation AUC {auc} (target 0.97):', 'met' if auc is not None and auc >= 0.97 else 'MISSED')" \
        "$WORK/bench/run/metrics.json"
}

stage_export() {
    need "$WORK/bench/run/checkpoint.pt" "run the train stage first (or the machine went cold)" || return 1
    local top
    top=$(tr ',' '\n' <<<"$BATCHES" | sort -n | tail -1)
    mc mc-export --checkpoint "$WORK/bench/run/checkpoint.pt" --out "$WORK/bench/bundle" --fp16 --int8 \
        --calib "$WORK/bench/train" --calib-size 256 --max-batch "$top" --opt-batch "$top"
}

stage_bench() {  # the GPU suite reuses train/, parity/, run/ and bundle/ under MC_BENCH_WORK
    need "$WORK/bench/bundle/bundle.json" "run the export stage first (or the machine went cold)" || return 1
    run env PYTHONPATH="$SITE:$PWD" MC_BENCH_BIN="$SITE/bin" MC_BENCH_WORK="$WORK/bench" \
        MC_BENCH_RESULTS="$LOGS" MC_BENCH_PARITY_N="$PARITY_N" MC_BENCH_GPU_BATCH_SIZES="$BATCHES" \
        MC_BENCH_WORKLIST="$WORK/worklist" MC_BENCH_DECODE_WORKERS="$DECODERS" bash benchmarks/gpu_suite.sh
}

stage_parity() {  # the exported ONNX variants run on this machine's CPU (its onnxruntime has no CUDA)
    need "$WORK/bench/bundle/bundle.json" "run the export stage first (or the machine went cold)" || return 1
    mc mc-bench --model "$WORK/bench/bundle" --patches "$WORK/bench/parity" --backends openvino,onnxruntime \
        --precisions fp32,fp16,int8 --batch-sizes 16 --repeats 1 --warmup 0 --baseline-tiles 2 --no-scan \
        --out "$LOGS/gpu-parity-onnx.json" --markdown "$LOGS/gpu-parity-onnx.md"
}

stage_rtx() {  # expected to fail on 9.0 (TensorRT-RTX documents no Hopper support): record how
    need "$WORK/bench/run/checkpoint.pt" "run the train stage first (or the machine went cold)" || return 1
    run env PYTHONPATH="$SITE:$PWD" "$PY" -c "import tensorrt_rtx as t; print('tensorrt_rtx', t.__version__)" \
        || return 1
    mc mc-export --checkpoint "$WORK/bench/run/checkpoint.pt" --out "$WORK/rtx/bundle" --fp16 --trt \
        --max-batch 8 --opt-batch 8 --no-parity || return 1
    run sh -c "cat $WORK/rtx/bundle/*.json"
    mc mc-bench --model "$WORK/rtx/bundle" --patches "$WORK/bench/parity" --parity-limit 64 --backends tensorrt \
        --precisions fp16 --batch-sizes 8 --duration 1 --no-scan --out "$LOGS/gpu-rtx.json" --markdown "$LOGS/gpu-rtx.md"
}

stage_report() {
    run mkdir -p "$OUT"
    run tar -czf "$OUT/gpu-verify-logs.tar.gz" -C "$LOGS" .
    for f in stages.tsv gpu-resnet101-674.json gpu-resnet101-674.md gpu-parity-onnx.md gpu-rtx.md; do
        if [ "$DRY" = 1 ] || [ -f "$LOGS/$f" ]; then run cp "$LOGS/$f" "$OUT/"; fi
    done
    [ "$DRY" = 1 ] || column -t "$LOGS/stages.tsv" 2>/dev/null || cat "$LOGS/stages.tsv"
}

STAGES="install env tests data train export bench parity rtx report"
FAILED=0
for name in "$@"; do
    if [ "$name" = all ]; then
        for s in $STAGES; do stage "$s"; done
    elif [ "$name" = pack ] || [[ " $STAGES " == *" $name "* ]]; then
        stage "$name"
    else
        echo "unknown stage $name; expected pack, all or: $STAGES" >&2; exit 2
    fi
done
exit $((FAILED > 0))
