#!/usr/bin/env bash
# Spacing suite (make bench-spacing): does a model trained at one detector's pixel spacing keep its
# cluster sensitivity on other detectors when mc-froc scans at the model's spacing, and how far
# does it fall when images are scanned at their native grid?
#
# mc-synth patches (0.07 mm) -> mc-train smallcnn 128 px, the test suite's recipe (records 0.07 mm)
# -> mc-export fp32 -> mc-synth vendors: 16 held-out breasts, each rendered once at 0.035 mm and
# seen by detectors of 0.05, 0.07, 0.085 and 0.1 mm (calcifications the same in mm; bits stored,
# VOI function and MONOCHROME1/2 rotating) -> mc-froc per spacing, resampled (the product) and
# with --native-grid -> benchmarks/spacing_table.py. Each step is skipped when its output exists,
# so an interrupted suite resumes. Knobs:
#
#   MC_SPACING_WORK (~/.microcalc/bench-work/spacing)  MC_BENCH_RESULTS (benchmarks/results)
#   MC_SPACING_CHECKPOINT (a smallcnn checkpoint trained at 0.07 mm to use instead of training one;
#     exported with --model-spacing 0.07)  MC_SPACING_TRAIN_N (960)  MC_SPACING_EPOCHS (15)
#   MC_SPACING_BREASTS (16)  MC_SPACING_CLUSTERS (3)  MC_SPACING_SEED (5000: the held-out breasts)

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${MC_BENCH_BIN:-.venv/bin}
PY=${MC_BENCH_PYTHON:-$BIN/python}
WORK=${MC_SPACING_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/spacing}
RESULTS=${MC_BENCH_RESULTS:-benchmarks/results}
TRAIN_N=${MC_SPACING_TRAIN_N:-960}
EPOCHS=${MC_SPACING_EPOCHS:-15}
BREASTS=${MC_SPACING_BREASTS:-16}
CHECKPOINT=${MC_SPACING_CHECKPOINT:-}
CLUSTERS=${MC_SPACING_CLUSTERS:-3}
SEED=${MC_SPACING_SEED:-5000}
MODEL_SPACING=0.07
SPACINGS=(0.05 0.07 0.085 0.1)

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
mkdir -p "$WORK" "$RESULTS"

if [ -z "$CHECKPOINT" ]; then
    if [ ! -d "$WORK/train" ]; then
        log "training patches: $TRAIN_N at 128 px, $MODEL_SPACING mm"
        "$BIN/mc-synth" patches "$WORK/train.tmp" --n "$TRAIN_N" --patch-size 128 --spacing "$MODEL_SPACING" --seed 1
        mv "$WORK/train.tmp" "$WORK/train"
    fi
    if [ ! -f "$WORK/run/checkpoint.pt" ]; then
        log "mc-train smallcnn 128 px, $EPOCHS epochs"
        "$BIN/mc-train" "$WORK/train" --out "$WORK/run" --arch smallcnn --patch-size 128 --epochs "$EPOCHS" \
            --batch-size 32 --lr 2e-3 --weight-decay 1e-4 --seed 0 --quiet
    fi
    CHECKPOINT=$WORK/run/checkpoint.pt
fi
if [ ! -f "$WORK/bundle/bundle.json" ]; then
    log "mc-export fp32 of $CHECKPOINT"
    "$BIN/mc-export" --checkpoint "$CHECKPOINT" --out "$WORK/bundle" --model-spacing "$MODEL_SPACING"
fi
if [ ! -f "$WORK/heldout/manifest.json" ]; then
    log "held-out mammograms: $BREASTS breasts at each spacing, $CLUSTERS clusters each"
    "$BIN/mc-synth" vendors "$WORK/heldout.tmp" --breasts "$BREASTS" --clusters "$CLUSTERS" \
        --spacings "$(IFS=,; echo "${SPACINGS[*]}")" --seed "$SEED"
    mv "$WORK/heldout.tmp" "$WORK/heldout"
fi
for spacing in "${SPACINGS[@]}"; do
    for arm in resampled native; do
        out="$WORK/froc/$arm/s$spacing"
        [ -f "$out/froc.json" ] && continue
        log "mc-froc s$spacing ($arm)"
        flags=(--backend onnxruntime --precision fp32 --out "$out")
        if [ "$arm" = native ]; then flags+=(--native-grid); fi
        "$BIN/mc-froc" "$WORK/bundle" "$WORK/heldout/s$spacing" "${flags[@]}"
    done
done
"$PY" benchmarks/spacing_table.py "$WORK/froc" --reference "$MODEL_SPACING" \
    --out "$RESULTS/spacing-smallcnn-128.md" --json "$RESULTS/spacing-smallcnn-128.json"
