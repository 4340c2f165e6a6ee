#!/usr/bin/env bash
# `make demo`: microcalc end to end, offline, in a few minutes on a 2-core CPU.
#
#   synthetic patches -> small CNN trained on them -> bundle (FP32 + INT8 ONNX)
#   -> synthetic mammogram with clusters (DICOM + ground truth) -> mc-scan -> findings
#
# Everything lands in demo_out/ (ignored by git). The Makefile has already installed the
# virtualenv. To scan with the published ResNet101 instead of the demo model, see README
# ("Using the published Microcalc-Detect weights").
set -euo pipefail

cd "$(dirname "$0")/.."
BIN="${VENV:-.venv}/bin"
OUT="${DEMO_OUT:-demo_out}"
PATCH=128
export MICROCALC_HOME="$PWD/$OUT/home"  # never touch the user's ~/.microcalc
mkdir -p "$OUT"

step() { printf '\n== %s\n' "$*"; }
t0=$SECONDS

if [[ ! -f "$OUT/run/checkpoint.pt" ]]; then
    step "1/5 synthetic training patches (${PATCH}x${PATCH})"
    rm -rf "$OUT/patches"
    "$BIN/mc-synth" patches "$OUT/patches" --n 960 --patch-size "$PATCH" --seed 1

    step "2/5 training a small CNN on them (smallcnn, CPU)"
    "$BIN/mc-train" "$OUT/patches" --out "$OUT/run" --arch smallcnn --patch-size "$PATCH" \
        --epochs 15 --batch-size 32 --lr 2e-3 --weight-decay 1e-4 --seed 0
else
    step "1-2/5 reusing the model trained earlier in $OUT/run (delete $OUT to start over)"
fi

step "3/5 exporting the bundle (FP32 + INT8 ONNX, parity-checked against PyTorch)"
if ! "$BIN/mc-export" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/bundle" --int8 --calib "$OUT/patches"; then
    # mc-export writes nothing when INT8 misses its label-agreement bound; FP32 still makes a valid bundle
    echo "INT8 did not pass parity on this small model: exporting FP32 only"
    "$BIN/mc-export" --checkpoint "$OUT/run/checkpoint.pt" --out "$OUT/bundle"
fi

step "4/5 a synthetic mammogram with clusters (DICOM + ground truth JSON)"
"$BIN/mc-synth" mammogram "$OUT/mammogram.dcm" --rows 2048 --cols 1664 --clusters 3 --seed 7

step "5/5 scanning it with the embedded default backend"
# overlap 0.5: a cluster cut by a tile edge is whole in a neighbouring tile (the default 0.25 is
# tuned for throughput; with this 128 px demo model a small cluster at an edge can be missed)
"$BIN/mc-scan" "$OUT/mammogram.dcm" --model "$OUT/bundle" --out "$OUT/scan" --overlap 0.5

step "findings"
"$BIN/python" - "$OUT/scan/mammogram.json" "$OUT/mammogram.json" <<'PY'
import json, sys
report, truth = (json.load(open(p)) for p in sys.argv[1:3])
print(f"backend {report['backend']} {report['precision']}, {report['tiles_scanned']} tiles, "
      f"{report['times_ms']['wall']:.0f} ms")
for k, f in enumerate(report["findings"], 1):
    b, c = f["bbox_px"], f["centre_mm"] or {}
    mm = f" = ({c['x']:.1f}, {c['y']:.1f}) mm" if c else ""
    print(f"  finding {k}: score {f['score']:.3f}, box x {b['x0']}-{b['x1']} y {b['y0']}-{b['y1']}, "
          f"centre ({f['centre_px']['x']:.0f}, {f['centre_px']['y']:.0f}) px{mm}, {f['tiles']} tile(s)")
for c in truth.get("clusters", []):
    row, col = c["center_px"]
    hit = any(f["frame_px"]["x0"] <= col < f["frame_px"]["x1"] and f["frame_px"]["y0"] <= row < f["frame_px"]["y1"]
              for f in report["findings"])
    print(f"  ground-truth cluster {c['id']} at ({col:.0f}, {row:.0f}) px: {'found' if hit else 'MISSED'}")
PY
printf '\nreport: %s\noverview: %s\n(%d s)\n' "$OUT/scan/mammogram.json" "$OUT/scan/mammogram.png" $((SECONDS - t0))
