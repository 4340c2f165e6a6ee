"""The done record of a distributed scan, and the tables compiled from it.

``OUT/.mc-scan-ledger/part-*.parquet`` holds one row per input the run finished: ``done`` (its
report is written) or ``failed`` (with its one-line reason). The driver appends a part only
after the reports of its rows are on disk, and each part appears by an atomic rename, so after
a kill at any moment the ledger lists a subset of the written reports and nothing half-written:
a rerun redoes the rest (rewriting the same report files) and duplicates nothing.

An image is done when its file's SHA-256 or its SOP Instance UID is in a ``done`` row (the same
image re-encoded keeps its UID). ``findings.parquet`` (one row per finding) and
``errors.parquet`` (one row per input that failed and was not done since) are compiled from the
whole ledger, first done row per image, so they cover every run into the folder exactly once.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.atomic import write_atomic

LEDGER_DIR = ".mc-scan-ledger"
FINDINGS_FILE = "findings.parquet"
ERRORS_FILE = "errors.parquet"
DONE, FAILED, SKIPPED = "done", "failed", "skipped"
LEDGER_COLUMNS = ("key", "sop_instance_uid", "input", "status", "reason", "report", "findings")
_BOX = ("x0", "y0", "x1", "y1")


@dataclass(frozen=True)
class DoneIndex:
    """What earlier runs finished: file SHA-256s and SOP Instance UIDs of done images."""

    keys: frozenset[str] = frozenset()
    uids: frozenset[str] = frozenset()

    def __len__(self) -> int:
        return len(self.keys)


def _write_parquet_atomic(table: Any, path: Path) -> None:
    """``pyarrow.parquet.write_table`` through the one atomic writer (temporary file, fsync, rename)."""
    import pyarrow.parquet as pq

    write_atomic(path, lambda f: pq.write_table(table, f), durable=True)


class Ledger:
    """The ledger folder of one output folder; see the module docstring."""

    def __init__(self, out_dir: Path) -> None:
        self.out_dir = out_dir
        self.dir = out_dir / LEDGER_DIR

    def parts(self) -> list[Path]:
        """Complete parts in the order they were written (temporary files are never listed)."""
        return sorted(self.dir.glob("part-*.parquet")) if self.dir.is_dir() else []

    def rows(self) -> list[dict[str, Any]]:
        import pyarrow.parquet as pq

        out: list[dict[str, Any]] = []
        for part in self.parts():
            out.extend(pq.read_table(part).to_pylist())
        return out

    def load(self) -> DoneIndex:
        done = [r for r in self.rows() if r["status"] == DONE]
        return DoneIndex(
            keys=frozenset(r["key"] for r in done),
            uids=frozenset(r["sop_instance_uid"] for r in done if r["sop_instance_uid"]),
        )

    def append(self, rows: list[dict[str, Any]]) -> None:
        """Add finished inputs as one new part (atomic: the part is there whole or not at all)."""
        import pyarrow as pa

        if not rows:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_pylist(
            [{c: row.get(c) for c in LEDGER_COLUMNS} for row in rows],
            schema=pa.schema([(c, pa.string()) for c in LEDGER_COLUMNS]),
        )
        _write_parquet_atomic(table, self.dir / f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet")

    def compile(self) -> tuple[int, int]:
        """Write ``findings.parquet`` and ``errors.parquet`` from the whole ledger; returns their row
        counts."""
        import pyarrow as pa

        done: dict[str, dict[str, Any]] = {}
        failed: dict[str, dict[str, Any]] = {}
        for row in self.rows():
            if row["status"] == DONE:
                done.setdefault(row["key"], row)
            else:
                failed[row["input"]] = row  # the latest failure of an input
        done_inputs = {row["input"] for row in done.values()}
        findings = [
            finding_row(row, rank, f)
            for row in done.values()
            for rank, f in enumerate(json.loads(row["findings"] or "[]"))
        ]
        errors = [
            {"input": r["input"], "key": r["key"], "reason": r["reason"]}
            for path, r in failed.items()
            if path not in done_inputs and r["key"] not in done
        ]
        findings_schema, errors_schema = _schemas()
        _write_parquet_atomic(
            pa.Table.from_pylist(findings, schema=findings_schema), self.out_dir / FINDINGS_FILE
        )
        _write_parquet_atomic(pa.Table.from_pylist(errors, schema=errors_schema), self.out_dir / ERRORS_FILE)
        return len(findings), len(errors)


def finding_row(image: dict[str, Any], rank: int, finding: dict[str, Any]) -> dict[str, Any]:
    """One row of ``findings.parquet`` from a ledger row and one finding of its JSON report."""
    px, mm = finding["bbox_px"], finding.get("bbox_mm") or {}
    return {
        "input": image["input"],
        "report": image["report"],
        "key": image["key"],
        "sop_instance_uid": image["sop_instance_uid"],
        "rank": rank,
        "score": float(finding["score"]),
        "tiles": int(finding["tiles"]),
        **{f"{k}_px": int(px[k]) for k in _BOX},
        **{f"{k}_mm": (float(mm[k]) if k in mm else None) for k in _BOX},
    }


def _schemas() -> tuple[Any, Any]:
    import pyarrow as pa

    findings = pa.schema(
        [
            ("input", pa.string()),
            ("report", pa.string()),
            ("key", pa.string()),
            ("sop_instance_uid", pa.string()),
            ("rank", pa.int32()),
            ("score", pa.float64()),
            ("tiles", pa.int32()),
            *[(f"{k}_px", pa.int64()) for k in _BOX],
            *[(f"{k}_mm", pa.float64()) for k in _BOX],
        ]
    )
    errors = pa.schema([("input", pa.string()), ("key", pa.string()), ("reason", pa.string())])
    return findings, errors
