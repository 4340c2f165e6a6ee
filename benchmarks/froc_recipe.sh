#!/usr/bin/env bash
# FROC recipe (make bench-froc, issue 9): a ResNet18 at 224 px trained on a CPU within 15 minutes,
# its image-level operating points calibrated on whole synthetic mammograms, then judged on held-out
# ones at its default point (fp0.25), and its patch-level default point (youden) on six patch sets
# that differ from training. Results and commands: benchmarks/FROC_RECIPE.md.
#
# mc-synth patches (800 at 224 px, seed 1) + 20 normal mammograms (seeds 8500-8519: the hard-negative
# pool) -> mc-train resnet18, 10 epochs, bf16 autocast + channels_last, one hard-negative round (the
# 160 highest-scoring tiles of the pool, then 10 more epochs) -> mc-export fp32 -> 20 calibration
# mammograms (seeds 7000-7019) -> mc-froc --calibrate -> 20 held-out mammograms (seeds 9000-9019,
# 10 with 1-3 clusters, 10 without) -> mc-froc at the default point -> benchmarks/augmentation_ablation.py
# --checkpoint (shifted patch sets, seeds 501-506). Mammograms are 2048x1664 at 0.07 mm (clusters keep
# their real size), scanned with --overlap 0.5 as in make demo. Each step is skipped when its output
# exists, so an interrupted run resumes. Knobs:
#
#   MC_FROC_WORK (~/.microcalc/bench-work/froc-recipe)  MC_FROC_EPOCHS (10)  MC_FROC_AMP (bf16)
#   MC_FROC_HARD_NEGATIVES (1)  MC_FROC_PER_ROUND (160)
#
# bf16 autocast pays on CPUs with avx512_bf16 (one ResNet18 224 step on a batch of 32: ~0.85 s against
# ~2.1 s in float32 on a 2-core Zen 5 slice); elsewhere set MC_FROC_AMP=off and expect ~2.5x the time.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${MC_BENCH_BIN:-.venv/bin}
PY=${MC_BENCH_PYTHON:-$BIN/python}
WORK=${MC_FROC_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/froc-recipe}
EPOCHS=${MC_FROC_EPOCHS:-10}
AMP=${MC_FROC_AMP:-bf16}
HARD_NEGATIVES=${MC_FROC_HARD_NEGATIVES:-1}
PER_ROUND=${MC_FROC_PER_ROUND:-160}
ROWS=2048 COLS=1664 OVERLAP=0.5
# shellcheck source=scripts/synth_mammograms.sh
source scripts/synth_mammograms.sh

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
mkdir -p "$WORK"

if [ ! -f "$WORK/patches/truth.json" ]; then
    log "training patches: 800 at 224 px, seed 1"
    "$BIN/mc-synth" patches "$WORK/patches" --n 800 --patch-size 224 --seed 1 >/dev/null
fi
if [ "$HARD_NEGATIVES" -gt 0 ] && [ ! -f "$WORK/negpool/m8519.dcm" ]; then
    synth_mammograms "$WORK/negpool" 8500 0 20
fi
if [ ! -f "$WORK/run/checkpoint.pt" ]; then
    log "mc-train resnet18 224 px, $EPOCHS epochs x $((HARD_NEGATIVES + 1)) rounds, --amp $AMP --channels-last"
    HN=()
    [ "$HARD_NEGATIVES" -gt 0 ] && HN=(--hard-negatives "$HARD_NEGATIVES" --negative-pool "$WORK/negpool"
        --per-round "$PER_ROUND")
    started=$SECONDS
    "$BIN/mc-train" "$WORK/patches" --out "$WORK/run" --arch resnet18 --patch-size 224 --epochs "$EPOCHS" \
        --batch-size 32 --lr 1e-3 --weight-decay 1e-4 --amp "$AMP" --channels-last --seed 0 --quiet "${HN[@]}"
    echo "$((SECONDS - started))" >"$WORK/train_wall_seconds"
fi
log "training wall time: $(cat "$WORK/train_wall_seconds") s (target: 900 s)"
if [ ! -f "$WORK/bundle/bundle.json" ]; then
    "$BIN/mc-export" --checkpoint "$WORK/run/checkpoint.pt" --out "$WORK/bundle"
fi
if [ ! -f "$WORK/froc_calib/froc.json" ]; then
    synth_mammograms "$WORK/calib" 7000 10 10
    "$BIN/mc-froc" "$WORK/bundle" "$WORK/calib" --out "$WORK/froc_calib" --overlap $OVERLAP --calibrate
fi
if [ ! -f "$WORK/froc/froc.json" ]; then
    synth_mammograms "$WORK/heldout" 9000 10 10
    "$BIN/mc-froc" "$WORK/bundle" "$WORK/heldout" --out "$WORK/froc" --overlap $OVERLAP
fi
if [ ! -f "$WORK/shifted.json" ]; then
    "$PY" benchmarks/augmentation_ablation.py --work "$WORK/shifted" --checkpoint "$WORK/run/checkpoint.pt" \
        --name "resnet18 224 (froc_recipe.sh)" --out "$WORK/shifted.json" --markdown "$WORK/shifted.md"
fi
log "FROC: $WORK/froc/froc.png, $WORK/froc/froc.json; shifted patch sets: $WORK/shifted.md"
