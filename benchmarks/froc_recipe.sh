#!/usr/bin/env bash
# FROC recipe (make bench-froc, issue 9): a ResNet18 at 224 px trained on a CPU within 15 minutes,
# its image-level operating points calibrated on whole synthetic mammograms, then judged on held-out
# ones at its default point (fp0.25), and its patch-level default point (youden) on six patch sets
# that differ from training. Results and commands: benchmarks/FROC_RECIPE.md.
#
# mc-synth patches (800 at 224 px, seed 1) + 20 normal mammograms (seeds 8500-8519: the hard-negative
# pool) -> mc-train resnet18 from scratch, 10 epochs at LR 1e-3 (bf16 autocast + channels_last) ->
# mc-train again from those weights, 5 epochs at LR 3e-4 with --noise-augment 8 (detector noise of
# 0-8 grey levels per patch; from scratch with it the model did not learn in 10 epochs), then one
# hard-negative round (the 160 highest-scoring breast tiles of the pool added as negatives, 5 more
# epochs) -> mc-export fp32 -> 20 calibration mammograms (seeds 7000-7019) -> mc-froc --calibrate ->
# 20 held-out mammograms (seeds 9000-9019, 10 with 1-3 clusters, 10 without) -> mc-froc at the
# default point -> benchmarks/augmentation_ablation.py --checkpoint (shifted patch sets, seeds
# 501-506). Mammograms are 2048x1664 at 0.07 mm (clusters keep their real size), scanned with
# --overlap 0.5 as in make demo. The two mc-train steps are timed together (train_wall_seconds; the
# target is 900 s). Each step is skipped when its output exists, so an interrupted run resumes.
#
#   froc_recipe.sh [--seed S] [--out DIR]
#
# --seed S (default 0) seeds the two mc-train steps (S and S + 1; seed 0 is the recipe of
# FROC_RECIPE.md); the data sets (patches, pool, calibration, held-out, shifted sets) do not depend on
# it and are made once under MC_FROC_WORK, shared by every seed. --out DIR (default
# MC_FROC_WORK/seed-S) holds that seed's runs, bundle and results. benchmarks/froc_seeds.sh runs
# several seeds and their ensemble (make bench-froc). Knobs:
#
#   MC_FROC_WORK (~/.microcalc/bench-work/froc-recipe)  MC_FROC_AMP (bf16)  MC_FROC_SHIFTED (1: also
#   judge the patch point on the shifted sets; 0 skips it)
#
# bf16 autocast pays on CPUs with avx512_bf16 (one ResNet18 224 step on a batch of 32: ~0.85 s against
# ~2.1 s in float32 on a 2-core Zen 5 slice); elsewhere set MC_FROC_AMP=off and expect ~2.5x the time.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${MC_BENCH_BIN:-.venv/bin}
PY=${MC_BENCH_PYTHON:-$BIN/python}
WORK=${MC_FROC_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/froc-recipe}
AMP=${MC_FROC_AMP:-bf16}
SEED=0 OUT=
while (($#)); do
    case $1 in
    --seed) SEED=$2 && shift 2 ;;
    --out) OUT=$2 && shift 2 ;;
    *) echo "froc_recipe.sh: unknown argument $1 (usage: froc_recipe.sh [--seed S] [--out DIR])" >&2 && exit 2 ;;
    esac
done
[[ $SEED =~ ^[0-9]+$ ]] || { echo "froc_recipe.sh: --seed must be a non-negative integer, not '$SEED'" >&2 && exit 2; }
OUT=${OUT:-$WORK/seed-$SEED}
ROWS=2048 COLS=1664 OVERLAP=0.5
# shellcheck source=scripts/synth_mammograms.sh
source scripts/synth_mammograms.sh

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
mkdir -p "$WORK" "$OUT"

if [ ! -f "$WORK/patches/truth.json" ]; then
    log "training patches: 800 at 224 px, seed 1"
    "$BIN/mc-synth" patches "$WORK/patches" --n 800 --patch-size 224 --seed 1 >/dev/null
fi
if [ ! -f "$WORK/negpool/m8519.dcm" ]; then
    synth_mammograms "$WORK/negpool" 8500 0 20
fi
# the held-out and calibration sets: made once (the last file marks a complete set)
[ -f "$WORK/calib/m7019.dcm" ] || synth_mammograms "$WORK/calib" 7000 10 10
[ -f "$WORK/heldout/m9019.dcm" ] || synth_mammograms "$WORK/heldout" 9000 10 10
COMMON=(--arch resnet18 --patch-size 224 --batch-size 32 --weight-decay 1e-4 --amp "$AMP" --channels-last --quiet)
if [ ! -f "$OUT/run/checkpoint.pt" ]; then
    if [ ! -f "$OUT/clean/metrics.json" ]; then # written when step 1 ends: a finished step 1 is kept
        started=$SECONDS
        log "seed $SEED: mc-train 1/2: resnet18 224 px from scratch, 10 epochs, --amp $AMP --channels-last"
        rm -rf "$OUT/clean"
        "$BIN/mc-train" "$WORK/patches" --out "$OUT/clean" --epochs 10 --lr 1e-3 --seed "$SEED" "${COMMON[@]}"
        echo "$((SECONDS - started))" >"$OUT/clean/wall_seconds"
    fi
    started=$SECONDS
    log "seed $SEED: mc-train 2/2: 5 epochs with --noise-augment 8, then one hard-negative round of 5 epochs"
    "$BIN/mc-train" "$WORK/patches" --out "$OUT/run" --init "$OUT/clean/checkpoint.pt" --epochs 5 --lr 3e-4 \
        --seed $((SEED + 1)) --noise-augment 8 --hard-negatives 1 --negative-pool "$WORK/negpool" --per-round 160 \
        "${COMMON[@]}"
    echo "$(($(cat "$OUT/clean/wall_seconds") + SECONDS - started))" >"$OUT/train_wall_seconds"
fi
log "seed $SEED: training wall time: $(cat "$OUT/train_wall_seconds") s (target: 900 s)"
if [ ! -f "$OUT/bundle/bundle.json" ]; then
    "$BIN/mc-export" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/bundle"
fi
if [ ! -f "$OUT/froc_calib/froc.json" ]; then
    "$BIN/mc-froc" "$OUT/bundle" "$WORK/calib" --out "$OUT/froc_calib" --overlap $OVERLAP --calibrate
fi
if [ ! -f "$OUT/froc/froc.json" ]; then
    "$BIN/mc-froc" "$OUT/bundle" "$WORK/heldout" --out "$OUT/froc" --overlap $OVERLAP
fi
if [ "${MC_FROC_SHIFTED:-1}" != 0 ] && [ ! -f "$OUT/shifted.json" ]; then
    "$PY" benchmarks/augmentation_ablation.py --work "$WORK/shifted" --checkpoint "$OUT/run/checkpoint.pt" \
        --name "resnet18 224 seed $SEED (froc_recipe.sh)" --out "$OUT/shifted.json" --markdown "$OUT/shifted.md"
fi
log "seed $SEED: FROC: $OUT/froc/froc.png, $OUT/froc/froc.json"
