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
from collections.abc import Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from microcalc.atomic import atomic_path
from microcalc.engine.findings import Finding
from microcalc.engine.geometry import ScanGeometry
from microcalc.engine.render import corner_lines, overview, ranked, scanned_spacing_mm, zoom_crop
from microcalc.engine.scan_result import ScanResult
from microcalc.report_sr.content import SRFinding, SRSubject
from microcalc.report_sr.document import algorithm_identification, operating_point_words

if TYPE_CHECKING:
    from microcalc.engine.triage import TriageOutcome

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


@dataclass(frozen=True)
class ScanReport:
    """The report of one scanned image, typed: what the console, the SR writer and the Ray ledger read.

    Built once from a :class:`ScanResult` and the run's :class:`RunInfo` (:meth:`of`); never mutated:
    what writing adds (each finding's ``rank``, the ``zoom`` crops, the ``outputs``) comes in through
    :func:`dataclasses.replace`. :meth:`to_json` is the one place it becomes JSON (the report file,
    ``mc-scan --json``); its keys and values are the report format's (docs/design.md).
    """

    input: str
    sop_instance_uid: str | None
    laterality: str | None
    view: str | None
    rows: int
    cols: int
    spacing_mm: tuple[float, float] | None
    geometry: ScanGeometry
    run: RunInfo
    tiles_scanned: int
    tiles_total: int
    triage: TriageOutcome | None
    times_ms: Mapping[str, float]
    backend_times_ms: Mapping[str, float]
    findings: tuple[Finding, ...]  # in the original pixel grid, as ScanResult.findings
    max_score: float
    ranks: tuple[int, ...] = ()  # per finding, 1 = highest score (as the overview labels it); set on writing
    zoom: tuple[dict[str, Any], ...] | None = None  # the --zoom crops, when written
    outputs: Mapping[str, str] | None = None  # the files written: json, png (and sr)

    @classmethod
    def of(cls, result: ScanResult, run: RunInfo) -> ScanReport:
        """The report of ``result`` (``result.error`` must be None), scanned in ``run``."""
        meta, geometry = result.image.meta, result.geometry
        return cls(
            input=str(result.path),
            sop_instance_uid=meta.sop_instance_uid,
            laterality=meta.laterality,
            view=meta.view,
            rows=int(meta.rows),
            cols=int(meta.cols),
            spacing_mm=geometry.spacing_mm,
            geometry=geometry,
            run=run,
            tiles_scanned=len(result.grid),
            tiles_total=int(result.grid.total),
            triage=result.triage,
            times_ms=dict(result.times_ms),
            backend_times_ms=dict(result.backend_ms),
            findings=tuple(result.findings),
            max_score=float(result.scores.max()) if result.scores.size else 0.0,
        )

    @property
    def suspicious(self) -> bool:
        return bool(self.findings)

    @property
    def operating_point(self) -> dict[str, Any]:
        """The run's operating point, or the bare threshold it ran at (``name`` None)."""
        return self.run.operating_point or {"name": None, "threshold": self.run.threshold}

    def finding_dicts(self) -> list[dict[str, Any]]:
        """The findings as the report's JSON lists them (with ``rank`` once written)."""
        out = [f.to_dict(spacing_mm=self.spacing_mm) for f in self.findings]
        for finding, rank in zip(out, self.ranks):
            finding["rank"] = rank
        return out

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON values, keys in the report format's order."""
        run, spacing = self.run, self.spacing_mm
        out: dict[str, Any] = {
            "format": REPORT_FORMAT,
            "input": self.input,
            "sop_instance_uid": self.sop_instance_uid,
            "laterality": self.laterality,
            "view": self.view,
            "rows": self.rows,
            "cols": self.cols,
            "pixel_spacing_mm": list(spacing) if spacing else None,
            "resampling": self.geometry.to_dict(),
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
            "operating_point": self.operating_point,
            "tiles_scanned": self.tiles_scanned,
            "tiles_total": self.tiles_total,
            "triage": self.triage.to_dict() if self.triage is not None else None,
            "times_ms": {k: round(v, 3) for k, v in self.times_ms.items()},
            "backend_times_ms": {k: round(v, 3) for k, v in self.backend_times_ms.items()},
            "findings": self.finding_dicts(),
            "max_score": self.max_score,
            "suspicious": self.suspicious,
        }
        if self.zoom is not None:
            out["zoom"] = [dict(z) for z in self.zoom]
        if self.outputs is not None:
            out["outputs"] = dict(self.outputs)
        return out

    def to_json(self) -> str:
        """The report file's text."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def sr_subject(self) -> SRSubject:
        """What the CAD SR and the overview SC need of this report, as report_sr's own types."""
        run = self.run
        point = operating_point_words(self.operating_point)
        return SRSubject(
            sop_instance_uid=self.sop_instance_uid,
            model_sha256=run.model_sha256,
            operating_point=point,
            findings=tuple(
                SRFinding(
                    centre=(float(f.bbox.centre[0]), float(f.bbox.centre[1])),
                    box=(float(f.bbox.x0), float(f.bbox.y0), float(f.bbox.x1), float(f.bbox.y1)),
                    score=float(f.score),
                )
                for f in self.findings
            ),
            algorithm=algorithm_identification(
                model_sha256=run.model_sha256,
                operating_point=point,
                threshold=run.threshold,
                model=f"{run.arch} {run.variant} on {run.backend} {run.precision}",
            ),
        )


def write_outputs(
    result: ScanResult,
    report: ScanReport,
    *,
    out_dir: Path,
    stem: str,
    heatmap: bool = False,
    zoom: bool = False,
) -> tuple[ScanReport, Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.json`` into ``out_dir`` (with ``zoom``, also
    ``<stem>.zoom<rank>.png`` per finding, listed in the report's ``zoom``); returns the report as
    written and the first two.

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
        report = replace(report, ranks=tuple(order[id(f)] for f in result.scan_findings))
        if zoom:
            report = replace(report, zoom=tuple(_write_zooms(result, stack, out_dir=out_dir, stem=stem)))
        corner = corner_lines(report.to_dict())
        overview(
            result.image.pixels,
            result.grid,
            result.scores,
            result.scan_findings,
            corner=corner,
            heatmap=heatmap,
        ).save(png_tmp, format="PNG")
        json_tmp.write_text(report.to_json())
    return report, json_path, png_path


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
