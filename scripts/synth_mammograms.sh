#!/usr/bin/env bash
# Synthetic mammogram sets for FROC runs (sourced by scripts/demo.sh and benchmarks/froc_recipe.sh).
#
#   synth_mammograms DIR FIRST_SEED WITH_CLUSTERS NORMAL
#
# writes DIR/m<seed>.dcm (+ mc-synth's truth JSON beside each): the first WITH_CLUSTERS images have
# 1, 2, 3, 1, ... clusters, the next NORMAL have none; view, laterality and BI-RADS density vary with
# the seed. Needs BIN (the folder of mc-synth) and ROWS, COLS (2048x1664 at 0.07 mm: half-size
# mammograms whose clusters keep their real size).
synth_mammograms() {
    local dir=$1 seed=$2 k=0 densities=(fatty scattered hetero dense)
    rm -rf "$dir" && mkdir -p "$dir"
    for ((i = 0; i < $3 + $4; i++)); do
        local s=$((seed + i)) clusters=0 view=CC side=L
        ((i < $3)) && clusters=$((1 + i % 3))
        ((s % 2)) && view=MLO
        ((s / 2 % 2)) && side=R
        "$BIN/mc-synth" mammogram "$dir/m$s.dcm" --rows "$ROWS" --cols "$COLS" --seed $s \
            --clusters $clusters --view $view --laterality $side --density "${densities[$((s % 4))]}" >/dev/null
        k=$((k + 1))
    done
    echo "$dir: $k mammograms ($3 with 1-3 clusters, $4 without), seeds $seed-$((seed + k - 1))"
}
