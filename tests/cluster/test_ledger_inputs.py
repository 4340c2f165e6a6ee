"""The done record and the manifests of ``mc-scan --ray``, without a Ray cluster (pyarrow only)."""

from __future__ import annotations

import json

import pytest

pq = pytest.importorskip(
    "pyarrow.parquet", reason='pyarrow is not installed: pip install "microcalc[cluster]"'
)

from microcalc.cluster.inputs import scan_inputs
from microcalc.cluster.ledger import ERRORS_FILE, FINDINGS_FILE, Ledger
from microcalc.errors import InputError

FINDING = {
    "bbox_px": {"x0": 10, "y0": 20, "x1": 30, "y1": 40},
    "bbox_mm": {"x0": 1.0, "y0": 2.0, "x1": 3.0, "y1": 4.0},
    "score": 0.9,
    "tiles": 2,
}


def row(key, path, status, *, uid=None, findings=(), reason=None):
    return {
        "key": key,
        "sop_instance_uid": uid,
        "input": path,
        "status": status,
        "reason": reason,
        "report": f"{path}.json" if status == "done" else None,
        "findings": json.dumps(list(findings)) if status == "done" else None,
    }


def test_ledger_keeps_each_image_once_and_only_errors_not_fixed_since(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.append(
        [
            row("k1", "a.dcm", "done", uid="1.2.1", findings=[FINDING, FINDING]),
            row("", "missing.dcm", "failed", reason="missing.dcm: no such file"),
            row("k3", "bad.dcm", "failed", reason="bad.dcm: not DICOM"),
        ]
    )
    # a second run: bad.dcm was fixed (new bytes), a.dcm copied to b.dcm (same bytes) and done again
    ledger.append(
        [
            row("k4", "bad.dcm", "done", findings=[]),
            row("k1", "b.dcm", "done", uid="1.2.1", findings=[FINDING]),
        ]
    )
    (ledger.dir / ".part-x.parquet.tmp").write_bytes(b"torn write of a killed run")  # never read
    done = ledger.load()
    assert done.keys == {"k1", "k4"} and done.uids == {"1.2.1"}
    assert ledger.compile() == (2, 1)
    findings = pq.read_table(tmp_path / FINDINGS_FILE).to_pylist()
    assert [(f["input"], f["rank"], f["x0_px"], f["y1_mm"]) for f in findings] == [
        ("a.dcm", 0, 10, 4.0),
        ("a.dcm", 1, 10, 4.0),
    ]
    errors = pq.read_table(tmp_path / ERRORS_FILE).to_pylist()
    assert errors == [{"input": "missing.dcm", "key": "", "reason": "missing.dcm: no such file"}]


def test_manifests_csv_and_parquet_resolve_relative_paths(tmp_path):
    import pyarrow as pa

    (tmp_path / "imgs").mkdir()
    for name in ("a.dcm", "b.dcm", "c.png"):
        (tmp_path / "imgs" / name).write_bytes(b"x")
    (tmp_path / "list.csv").write_text("path,site\nimgs/a.dcm,1\n\nimgs/b.dcm,2\n")
    pq.write_table(
        pa.table({"path": [str(tmp_path / "imgs" / "c.png"), "imgs/a.dcm"]}), tmp_path / "list.parquet"
    )
    got = scan_inputs([str(tmp_path / "list.csv"), str(tmp_path / "list.parquet")])
    assert [p.name for p in got] == ["a.dcm", "b.dcm", "c.png"]  # a.dcm listed twice, scanned once
    (tmp_path / "bad.csv").write_text("file\nimgs/a.dcm\n")
    with pytest.raises(InputError, match=r"bad\.csv: no 'path' column \(header: file\)"):
        scan_inputs([str(tmp_path / "bad.csv")])
    (tmp_path / "bad.parquet").write_bytes(b"not parquet")
    with pytest.raises(InputError, match=r"bad\.parquet: cannot read the manifest"):
        scan_inputs([str(tmp_path / "bad.parquet")])
