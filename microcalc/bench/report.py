"""The ``mc-bench`` JSON report: its schema, a structural check, and an atomic writer.

The keys below are kept stable so reports from different versions and machines compare:
``machine``; ``baseline`` (``patches_per_s``); ``runs`` (``backend``, ``precision``,
``batch_size``, ``patches_per_s``, ``latency_ms`` p50/p90/p99, ``speedup_vs_baseline``,
``parity``); ``scan`` (``tiles``, ``wall_ms``, ``stages_ms``, ``model_only_ms``, ``efficiency``).
New keys may be added; these are never renamed.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from microcalc.atomic import write_text_atomic

SCHEMA = "microcalc-bench"
VERSION = 1
RUN_KEYS = (
    "backend",
    "precision",
    "batch_size",
    "patches_per_s",
    "latency_ms",
    "speedup_vs_baseline",
    "parity",
)
LATENCY_KEYS = ("p50", "p90", "p99")
PARITY_KEYS = ("max_abs_diff", "mean_abs_diff", "label_agreement", "auc", "delta_auc", "passed")
SCAN_KEYS = ("tiles", "wall_ms", "stages_ms", "model_only_ms", "efficiency")


def structure_errors(report: dict[str, Any]) -> list[str]:
    """Every stable key the report lacks, as ``path.to.key`` lines (empty when complete)."""
    errors = [k for k in ("machine", "baseline", "runs", "scan") if k not in report]
    if "patches_per_s" not in (report.get("baseline") or {}):
        errors.append("baseline.patches_per_s")
    for i, run in enumerate(report.get("runs") or []):
        errors += [f"runs[{i}].{k}" for k in RUN_KEYS if k not in run]
        errors += [
            f"runs[{i}].latency_ms.{k}" for k in LATENCY_KEYS if k not in (run.get("latency_ms") or {})
        ]
        if run.get("parity") is not None:
            errors += [f"runs[{i}].parity.{k}" for k in PARITY_KEYS if k not in run["parity"]]
    if report.get("scan") is not None:
        errors += [f"scan.{k}" for k in SCAN_KEYS if k not in report["scan"]]
    return errors


def best_run(report: dict[str, Any]) -> dict[str, Any] | None:
    """The fastest run (patches per second) whose variant passes parity, or ``None``."""
    passing = [r for r in report.get("runs") or [] if (r.get("parity") or {}).get("passed")]
    return max(passing, key=lambda r: r["patches_per_s"], default=None)


def _finite(value: Any) -> Any:
    """JSON has no NaN/Infinity: map them to null so every JSON reader accepts the report."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(report: dict[str, Any], path: str | os.PathLike) -> None:
    """The report as indented JSON (NaN written as null)."""
    write_text_atomic(path, json.dumps(_finite(report), indent=2, sort_keys=False) + "\n")
