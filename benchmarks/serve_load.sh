#!/usr/bin/env bash
# The full mc-serve load test: 8 concurrent storescu associations x 125 small synthetic mammograms,
# a hung peer and one that disconnects mid-dataset, through mc-serve to a real Orthanc.
#
#   MODEL=path/to/bundle bash benchmarks/serve_load.sh      # [WORK=/tmp/mc-serve-load] [N=125] [ASSOC=8]
#
# Starts Orthanc and mc-serve on 127.0.0.1 free ports, stops both by PID at the end. Prints
# benchmarks/serve_load.py's JSON (images/s, RSS samples) and checks one SR per image in Orthanc.
# Needs orthanc, dcmtk (storescu). Small images (ROWS x COLS, default 512x416, no cluster: none fits
# in so small a breast) keep it to minutes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BIN=${BIN:-.venv/bin}
: "${MODEL:?set MODEL to a model bundle (e.g. one made by mc-export)}"
WORK=${WORK:-/tmp/mc-serve-load}
N=${N:-125}
ASSOC=${ASSOC:-8}
ROWS=${ROWS:-512}
COLS=${COLS:-416}
rm -rf "$WORK" && mkdir -p "$WORK/orthanc" "$WORK/images"
port() { "$BIN/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

for seed in 0 1 2 3; do
    "$BIN/mc-synth" mammogram "$WORK/base$seed.dcm" --rows "$ROWS" --cols "$COLS" --clusters 0 --seed "$seed" >/dev/null
done
"$BIN/python" - "$WORK" $((N * ASSOC)) <<'PY'
import sys
from pathlib import Path
import pydicom
from pydicom.uid import generate_uid
work, count = Path(sys.argv[1]), int(sys.argv[2])
bases = [pydicom.dcmread(work / f"base{k}.dcm") for k in range(4)]
for k in range(count):  # one study each, so that Orthanc's SRs can be counted per image
    ds = bases[k % 4]
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(work / "images" / f"img{k:04d}.dcm", enforce_file_format=True)
PY

DICOM=$(port); HTTP=$(port); NODE=$(port)
cat >"$WORK/orthanc/orthanc.json" <<JSON
{"Name": "mc-serve-load", "StorageDirectory": "$WORK/orthanc/db", "IndexDirectory": "$WORK/orthanc/db",
 "HttpPort": $HTTP, "DicomPort": $DICOM, "DicomAet": "ORTHANC", "RemoteAccessAllowed": false,
 "AuthenticationEnabled": false, "Plugins": [], "DicomCheckCalledAet": false, "ConcurrentJobs": 1}
JSON
Orthanc "$WORK/orthanc/orthanc.json" >"$WORK/orthanc.log" 2>&1 &
ORTHANC_PID=$!
"$BIN/mc-serve" --port "$NODE" --allow MODALITY@127.0.0.1 --allow SCU@127.0.0.1 \
    --dest "ORTHANC@127.0.0.1:$DICOM" --model "$MODEL" --spool "$WORK/spool" --out "$WORK/out" \
    --max-associations $((ASSOC + 2)) --network-timeout 10 --acse-timeout 5 --max-backoff 2 \
    >"$WORK/serve.log" 2>&1 &
SERVE_PID=$!
trap 'kill $SERVE_PID $ORTHANC_PID 2>/dev/null || true' EXIT
until echoscu -aet SCU -aec MICROCALC 127.0.0.1 "$NODE" 2>/dev/null; do
    kill -0 $SERVE_PID || { tail -20 "$WORK/serve.log"; exit 1; }
    sleep 1
done
"$BIN/python" benchmarks/serve_load.py --port "$NODE" --pid $SERVE_PID --orthanc-http "$HTTP" \
    --images "$WORK/images" --associations "$ASSOC" | tee "$WORK/result.json"
status=${PIPESTATUS[0]}
kill -TERM $SERVE_PID && wait $SERVE_PID || true
echo "spool left: incoming $(ls "$WORK/spool/incoming" | wc -l), outbox $(ls "$WORK/spool/outbox" | wc -l)," \
    "temporary files $(find "$WORK/spool" -name '.*.tmp' | wc -l); audit lines stored:" \
    "$(grep -c '"outcome": "stored"' "$WORK/serve.log")"
exit "$status"
