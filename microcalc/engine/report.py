"""Per-image reports: ``DIR/<stem>.json`` and ``DIR/<stem>.png``, written atomically.

The JSON carries what a reader or a PACS integration needs to place the findings (image
identity by SOP Instance UID only, geometry, the resampling to the model's spacing (original and
model spacing, scale, what was assumed), model identity, how it was run, per-stage times)
and never the patient's name, ID or birth date: :class:`~microcalc.imaging.ImageMeta` does not
even hold them. Each file is written under a temporary name in the output folder and renamed,
so an interrupted or failed scan leaves no partial file.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microcalc.atomic import atomic_path
from microcalc.engine.pipeline import ScanResult
from microcalc.engine.render import overview

REPORT_FORMAT = "microcalc-scan"


@dataclass(frozen=True)
class RunInfo:
    """What every report of one run shares: the model and how it ran."""

    bundle: str
    model_sha256: str
    arch: str
    patch_size: int
    variant: str
    backend: str
    precision: str
    threshold: float
    overlap: float
    min_breast: float
    batch_size: int
    operating_point: dict[str, Any] = field(default_factory=dict)
    runtime: dict[str, Any] = field(default_factory=dict)  # Backend.runtime(): how it runs on this host


def build_report(result: ScanResult, run: RunInfo) -> dict[str, Any]:
    """The JSON report of one scanned image (``result.error`` must be None)."""
    meta, geometry = result.image.meta, result.geometry
    spacing = geometry.spacing_mm
    max_score = float(result.scores.max()) if result.scores.size else 0.0
    return {
        "format": REPORT_FORMAT,
        "input": str(result.path),
        "sop_instance_uid": meta.sop_instance_uid,
        "laterality": meta.laterality,
        "view": meta.view,
        "rows": int(meta.rows),
        "cols": int(meta.cols),
        "pixel_spacing_mm": list(spacing) if spacing else None,
        "resampling": geometry.to_dict(),
        "model_sha256": run.model_sha256,
        "model": {
            "bundle": run.bundle,
            "arch": run.arch,
            "patch_size": run.patch_size,
            "variant": run.variant,
        },
        "backend": run.backend,
        "precision": run.precision,
        "runtime": run.runtime,
        "settings": {
            "threshold": run.threshold,
            "overlap": run.overlap,
            "min_breast": run.min_breast,
            "batch_size": run.batch_size,
        },
        "operating_point": run.operating_point or {"name": None, "threshold": run.threshold},
        "tiles_scanned": len(result.grid),
        "tiles_total": int(result.grid.total),
        "triage": result.triage.to_dict() if result.triage is not None else None,
        "times_ms": {k: round(v, 3) for k, v in result.times_ms.items()},
        "backend_times_ms": {k: round(v, 3) for k, v in result.backend_ms.items()},
        "findings": [f.to_dict(spacing_mm=spacing) for f in result.findings],
        "max_score": max_score,
        "suspicious": bool(result.findings),
    }


def write_outputs(
    result: ScanResult, report: dict[str, Any], *, out_dir: Path, stem: str
) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.json`` into ``out_dir``; returns their paths.

    Both are written to temporary names first and renamed only when both are complete (the JSON
    last), so a failure leaves neither file nor any temporary one.
    """
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    with atomic_path(json_path) as json_tmp, atomic_path(png_path) as png_tmp:
        overview(result.image.pixels, result.grid, result.scores, result.scan_findings).save(
            png_tmp, format="PNG"
        )
        json_tmp.write_text(json.dumps(report, indent=2) + "\n")
    return json_path, png_path


def unique_stems(paths: Iterable[Path]) -> list[str]:
    """Output stems for ``paths``: the input stem, with ``-2``, ``-3`` ... where two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        stem = Path(path).stem or Path(path).name
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems
