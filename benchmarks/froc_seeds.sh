#!/usr/bin/env bash
# make bench-froc: the FROC recipe (froc_recipe.sh) for each of MC_FROC_SEEDS (0 1 2), then the
# ensemble of those seeds (mc-export of every seed's checkpoint as one averaging graph, its fp0.25
# point calibrated with mc-froc --calibrate on the same calibration mammograms as each seed, then
# judged on the same held-out ones), then benchmarks/froc_seeds.py: per-seed figures, mean ± sd, and
# the ensemble beside them in benchmarks/results/froc-resnet18-224-seeds.{json,md}. Every step is
# skipped when its output exists (an interrupted run resumes); MC_FROC_WORK as in froc_recipe.sh.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=${MC_BENCH_BIN:-.venv/bin}
PY=${MC_BENCH_PYTHON:-$BIN/python}
WORK=${MC_FROC_WORK:-${MICROCALC_HOME:-$HOME/.microcalc}/bench-work/froc-recipe}
read -r -a SEEDS <<<"${MC_FROC_SEEDS:-0 1 2}"
export MC_FROC_WORK=$WORK

for seed in "${SEEDS[@]}"; do
    bash benchmarks/froc_recipe.sh --seed "$seed"
done
ENS=$WORK/ensemble
if ((${#SEEDS[@]} > 1)); then
    members=()
    for seed in "${SEEDS[@]}"; do members+=(--checkpoint "$WORK/seed-$seed/run/checkpoint.pt"); done
    [ -f "$ENS/bundle/bundle.json" ] || "$BIN/mc-export" "${members[@]}" --out "$ENS/bundle"
    [ -f "$ENS/froc_calib/froc.json" ] ||
        "$BIN/mc-froc" "$ENS/bundle" "$WORK/calib" --out "$ENS/froc_calib" --overlap 0.5 --calibrate
    [ -f "$ENS/froc/froc.json" ] || "$BIN/mc-froc" "$ENS/bundle" "$WORK/heldout" --out "$ENS/froc" --overlap 0.5
fi
"$PY" benchmarks/froc_seeds.py --work "$WORK" --seeds "${SEEDS[@]}" \
    --out benchmarks/results/froc-resnet18-224-seeds.json --markdown benchmarks/results/froc-resnet18-224-seeds.md
