"""Input expansion (files, folders, globs), output names, and atomic report files."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fakes import as_image, phantom

from microcalc.engine import report as report_mod
from microcalc.engine.findings import find_clusters, score_grid
from microcalc.engine.geometry import plan_geometry
from microcalc.engine.inputs import expand_inputs
from microcalc.engine.mask import breast_mask
from microcalc.engine.report import RunInfo, ScanReport, unique_stems, write_outputs
from microcalc.engine.scan_result import PreparedImage, ScanResult
from microcalc.engine.tiler import plan_tiles
from microcalc.errors import InternalError


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in ("a.dcm", "b.png", "sub/c.dcm", "sub/IM0001", "notes.txt", ".hidden.dcm", ".cache/d.dcm"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    return tmp_path


@pytest.mark.parametrize(
    "args, expected",
    [
        (["a.dcm"], ["a.dcm"]),  # a file as given
        (["."], ["a.dcm", "b.png", "sub/IM0001", "sub/c.dcm"]),  # folder: images, suffix-less, no hidden
        (["*.dcm"], ["a.dcm"]),  # glob
        (["**/*.dcm"], ["a.dcm", "sub/c.dcm"]),  # recursive glob
        (["a.dcm", ".", "a.dcm"], ["a.dcm", "b.png", "sub/IM0001", "sub/c.dcm"]),  # duplicates once
        (["missing.dcm"], ["missing.dcm"]),  # kept, so the scan reports it
        (["nothing*.dcm"], ["nothing*.dcm"]),  # unmatched glob kept likewise
    ],
)
def test_expand_inputs(tree, monkeypatch, args, expected):
    monkeypatch.chdir(tree)
    assert [p.as_posix() for p in expand_inputs(args)] == expected


def test_unique_stems():
    assert unique_stems([Path("x/a.dcm"), Path("y/a.dcm"), Path("b.png")]) == ["a", "a-2", "b"]


RUN = RunInfo(
    bundle="b",
    model_sha256="ab" * 32,
    arch="smallcnn",
    patch_size=64,
    variant="fp32",
    backend="onnxruntime",
    precision="fp32",
    threshold=0.5,
    overlap=0.25,
    min_breast=0.1,
    batch_size=8,
    runtime={"threads": 2},
)
# The report format's keys, in order (docs/design.md); ``zoom`` and ``outputs`` come with writing.
REPORT_KEYS = [
    "format", "input", "sop_instance_uid", "laterality", "view", "rows", "cols", "pixel_spacing_mm",
    "resampling", "model_sha256", "model", "backend", "precision", "runtime", "settings", "operating_point",
    "tiles_scanned", "tiles_total", "triage", "times_ms", "backend_times_ms", "findings", "max_score",
    "suspicious",
]  # fmt: skip


def _scanned() -> ScanResult:
    img = phantom()
    grid = plan_tiles(breast_mask(img), size=64, overlap=0.25, min_breast=0.1)
    scores = (grid.ys % 3).astype("float32") / 3
    cams = scores[:, None, None].repeat(8, 1).repeat(8, 2)
    image = as_image(img)
    findings = find_clusters(grid, scores, cams, threshold=0.5)
    return ScanResult(
        index=0,
        path=Path("a.dcm"),
        image=image,
        geometry=plan_geometry(image, model_spacing_mm=None),
        grid=grid,
        scores=scores,
        cams=cams,
        heat=score_grid(grid, scores),
        findings=findings,
        scan_findings=findings,
    )


def test_outputs_written_atomically(tmp_path):
    result = _scanned()
    report, json_path, png_path = write_outputs(
        result, ScanReport.of(result, RUN), out_dir=tmp_path, stem="a"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "a.png"]
    assert json_path.read_text() == report.to_json() and png_path.stat().st_size > 0


def test_failed_write_leaves_no_partial_file(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise OSError("disk full")

    result = _scanned()
    monkeypatch.setattr(report_mod.json, "dumps", broken)
    with pytest.raises(OSError, match="disk full"):
        write_outputs(result, ScanReport.of(result, RUN), out_dir=tmp_path, stem="a")
    assert list(tmp_path.iterdir()) == []  # neither file, no temporary file


def test_the_typed_report_writes_the_report_format_without_mutating(tmp_path):
    """ScanReport.to_json is the one JSON of a report: the format's keys, the findings' values, each
    finding's rank and the zoom crops added by writing, as a new report (the one given is unchanged)."""
    import json

    result = _scanned()
    assert result.findings, "the fixture scan must have findings"
    report = ScanReport.of(result, RUN)
    written, json_path, _ = write_outputs(result, report, out_dir=tmp_path, stem="a", zoom=True)
    data = json.loads(json_path.read_text())
    assert list(data) == [*REPORT_KEYS, "zoom"] and list(report.to_dict()) == REPORT_KEYS
    assert report.ranks == () and report.zoom is None  # frozen: writing made a new report
    assert [f["rank"] for f in data["findings"]] == list(written.ranks) and sorted(written.ranks) == list(
        range(1, len(result.findings) + 1)
    )
    assert [f["bbox_px"] for f in data["findings"]] == [f.bbox.to_dict() for f in result.findings]
    assert data["max_score"] == float(result.scores.max()) and data["suspicious"] is True
    assert data["operating_point"] == {"name": None, "threshold": 0.5} and data["settings"]["batch_size"] == 8
    assert [z["png"] for z in data["zoom"]] == [f"a.zoom{r}.png" for r in range(1, len(result.findings) + 1)]


def test_results_are_frozen_and_prepared_pixels_are_in_the_scanned_grid():
    """Values flow one way: nothing downstream rewrites a result, and a prepared image's geometry
    says which grid its pixels are in (after resampling, not the original one its meta describes)."""
    import dataclasses

    result = _scanned()
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.scores = None
    image = as_image(phantom(600, 500), spacing_mm=(0.1, 0.1))
    geometry = plan_geometry(image, model_spacing_mm=0.05)  # scanned 1200x1000
    with pytest.raises(InternalError, match=r"are not in the scanned grid \(1200, 1000\)"):
        PreparedImage(index=0, path=Path("a.dcm"), image=image, geometry=geometry, grid=result.grid)
