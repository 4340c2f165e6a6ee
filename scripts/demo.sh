#!/usr/bin/env bash
# `make demo`: microcalc end to end, offline, in a few minutes on a 2-core CPU.
#
#   synthetic patches -> small CNN trained on them (patch-level operating points from its validation)
#   -> bundle (FP32 + INT8 ONNX) -> image-level operating points calibrated with mc-froc on synthetic
#   mammograms -> FROC on held-out synthetic mammograms (seeds never used before) -> mc-scan
#
# Everything lands in demo_out/ (ignored by git). The Makefile has already installed the
# virtualenv. To scan with the published ResNet101 instead of the demo model, see README
# ("Using the published Microcalc-Detect weights").
set -euo pipefail

cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
OUT="${DEMO_OUT:-demo_out}"
PATCH=128
ROWS=2048 COLS=1664   # half-size mammograms at the full 0.07 mm spacing: clusters keep their real size
OVERLAP=0.5           # a cluster cut by a tile edge is whole in a neighbouring tile (the 128 px model needs it)
SEED="${DEMO_SEED:-0}" # training seed (patches use SEED + 1); the calibration and held-out sets never change
mkdir -p "$OUT"
export MICROCALC_HOME="$(cd "$OUT" && pwd)/home"  # never touch the user's ~/.microcalc (DEMO_OUT may be absolute)

step() { printf '\n== %s  [%d s]\n' "$*" $((SECONDS - t0)); }  # elapsed since the start
t0=$SECONDS

# mammograms: synth_mammograms DIR FIRST_SEED WITH_CLUSTERS NORMAL (clusters 1..3 in turn, views and densities vary)
# shellcheck source=scripts/synth_mammograms.sh
source scripts/synth_mammograms.sh

if [[ ! -f "$OUT/run/checkpoint.pt" ]]; then
    step "1/7 synthetic training patches (${PATCH}x${PATCH}) and 10 normal mammograms to mine negatives from"
    rm -rf "$OUT/patches"
    "$BIN/mc-synth" patches "$OUT/patches" --n 640 --patch-size "$PATCH" --seed $((SEED + 1))
    synth_mammograms "$OUT/negpool" $((8500 + 100 * SEED)) 0 10

    step "2/7 training a small CNN on them, then on the 160 normal tiles it scores highest (hard negatives)"
    "$BIN/mc-train" "$OUT/patches" --out "$OUT/run" --arch smallcnn --patch-size "$PATCH" \
        --epochs 4 --batch-size 32 --lr 2e-3 --weight-decay 1e-4 --seed "$SEED" \
        --hard-negatives 1 --negative-pool "$OUT/negpool" --per-round 160
else
    step "1-2/7 reusing the model trained earlier in $OUT/run (delete $OUT to start over)"
fi

step "3/7 exporting the bundle (FP32 + INT8 ONNX, parity-checked against PyTorch; carries the operating points)"
if ! "$BIN/mc-export" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/bundle" --int8 --calib "$OUT/patches"; then
    # mc-export writes nothing when INT8 misses its label-agreement bound; FP32 still makes a valid bundle
    echo "INT8 did not pass parity on this small model: exporting FP32 only"
    "$BIN/mc-export" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/bundle"
fi

step "4/7 calibration mammograms (DICOM + ground truth JSON)"
synth_mammograms "$OUT/calib" 7000 10 10

step "5/7 image-level operating points: mc-froc --calibrate (fp0.1 .. fp1; fp0.25 becomes the default)"
"$BIN/mc-froc" "$OUT/bundle" "$OUT/calib" --out "$OUT/froc_calib" --overlap $OVERLAP --calibrate

step "6/7 held-out mammograms, seeds never used in training or calibration: FROC at the default point"
synth_mammograms "$OUT/heldout" 8000 10 10
"$BIN/mc-froc" "$OUT/bundle" "$OUT/heldout" --out "$OUT/froc" --overlap $OVERLAP

step "result: the held-out FROC"
"$BIN/python" - "$OUT/froc/froc.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
op, at = r["operating_point"], r["at_operating_point"]
print(f"held-out: {r['images']} mammograms ({r['images_with_clusters']} with {r['clusters']} clusters, "
      f"{r['normal_images']} without), {r['backend']} {r['precision']}")
print(f"at operating point {op['name']} (threshold {op['threshold']:.4g}): cluster sensitivity "
      f"{at['sensitivity']:.3f}, {at['fp_per_image']:.3f} false positives per image; image-level AUC "
      f"{r['image_auc']:.3f}")
print("sensitivity at FP/image:", ", ".join(f"{k}: {'-' if v is None else f'{v:.2f}'}"
                                           for k, v in r["sensitivity_at_fp"].items()))
PY
printf 'FROC: %s (plot), %s (table)\n' "$OUT/froc/froc.png" "$OUT/froc/froc.csv"

# Two held-out mammograms chosen before any model existed: the second image with clusters (two of them)
# and the first normal one. Whatever the model does with them is printed, hit or miss.
step "7/7 scanning two held-out mammograms as a reader would (mc-scan, the bundle's default operating point)"
"$BIN/mc-scan" "$OUT/heldout/m8001.dcm" "$OUT/heldout/m8010.dcm" --model "$OUT/bundle" --out "$OUT/scan" \
    --overlap $OVERLAP
printf '\noverviews (findings outlined, rank and score beside them): %s %s\n' "$OUT/scan/m8001.png" \
    "$OUT/scan/m8010.png"
printf 'each finding at full resolution: %s\n(%d s)\n' "$OUT/scan/m8001.zoom*.png" $((SECONDS - t0))

step "what the ground truth says about these two scans (mc-synth's truth beside each image)"
"$BIN/python" -m microcalc.evaluation.verdict "$OUT/scan/m8001.json" "$OUT/scan/m8010.json"
