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
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microcalc.atomic import atomic_path
from microcalc.engine.render import corner_lines, overview, ranked, scanned_spacing_mm, zoom_crop
from microcalc.engine.scan_result import ScanResult

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
    result: ScanResult,
    report: dict[str, Any],
    *,
    out_dir: Path,
    stem: str,
    heatmap: bool = False,
    zoom: bool = False,
) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.json`` into ``out_dir`` (with ``zoom``, also
    ``<stem>.zoom<rank>.png`` per finding, listed in the report's ``zoom``); returns the first two.

    Each finding gets its ``rank`` (1 = highest score, as the overview labels it). Every file is
    written to a temporary name first and renamed only when all are complete (the JSON last), so a
    failure leaves no file nor any temporary one.
    """
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    with ExitStack() as stack:
        json_tmp, png_tmp = (
            stack.enter_context(atomic_path(json_path)),
            stack.enter_context(atomic_path(png_path)),
        )
        order = {id(f): rank for rank, f in ranked(result.scan_findings)}
        for finding, scanned in zip(report.get("findings", ()), result.scan_findings):
            finding["rank"] = order[id(scanned)]
        if zoom:
            report["zoom"] = _write_zooms(result, stack, out_dir=out_dir, stem=stem)
        corner = corner_lines(report)
        overview(
            result.image.pixels,
            result.grid,
            result.scores,
            result.scan_findings,
            corner=corner,
            heatmap=heatmap,
        ).save(png_tmp, format="PNG")
        json_tmp.write_text(json.dumps(report, indent=2) + "\n")
    return json_path, png_path


def _write_zooms(result: ScanResult, stack: ExitStack, *, out_dir: Path, stem: str) -> list[dict[str, Any]]:
    """Each finding's crop at the scanned resolution, as ``<stem>.zoom<rank>.png`` (see render.zoom_crop)."""
    spacing = scanned_spacing_mm(result.geometry)
    entries = []
    for rank, finding in ranked(result.scan_findings):
        image, crop = zoom_crop(result.image.pixels, finding.bbox, spacing_mm=spacing)
        name = f"{stem}.zoom{rank}.png"
        image.save(stack.enter_context(atomic_path(out_dir / name)), format="PNG")
        index = result.scan_findings.index(finding)
        entries.append(
            {
                "rank": rank,
                "finding": index,
                "png": name,
                "scanned_crop_px": crop.to_dict(),
                "spacing_mm": spacing,
            }
        )
    return entries


def unique_stems(paths: Iterable[Path]) -> list[str]:
    """Output stems for ``paths``: the input stem, with ``-2``, ``-3`` ... where two inputs share one."""
    seen: dict[str, int] = {}
    stems = []
    for path in paths:
        stem = Path(path).stem or Path(path).name
        seen[stem] = seen.get(stem, 0) + 1
        stems.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return stems
