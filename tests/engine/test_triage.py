"""Triage with known predictors: the triage model scores a tile ``max / 255`` (only tiles touching a white
spot reach 1.0), the main model ``mean / 255``; so which tiles are skipped, and what they score, is exact."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import TINY_PATCH as P
from engine_fakes import TINY_THRESHOLD, add_max_triage, as_image, phantom, write_tiny_bundle

from microcalc import scan_cli
from microcalc.bundle import Bundle
from microcalc.engine.pipeline import Scanner
from microcalc.engine.scan_result import ScanFailure
from microcalc.engine.settings import ScanSettings
from microcalc.engine.triage import Triage
from microcalc.errors import InputError, InternalError, MicrocalcError, StaleArtifactError

SPOT = (300, 200)  # (y, x) of the phantom's white spot
TRIAGE_AT = 0.5  # triage threshold on max / 255: spot tiles 1.0, tissue tiles ~0.25


@pytest.fixture
def triaged(tmp_path: Path) -> Bundle:
    root = write_tiny_bundle(tmp_path / "triaged", patch=P, threshold=TINY_THRESHOLD)
    return Bundle.load(add_max_triage(root, threshold=TRIAGE_AT))


def scan_one(backend, image: np.ndarray, *, threshold: float, triage: Triage | None):
    reader = lambda path: as_image(image, path.name)
    scanner = Scanner(
        backend, reader=reader, settings=ScanSettings(threshold=threshold, batch_size=4), triage=triage
    )
    (result,) = scanner.scan([Path("a")])
    assert result.error is None
    return result


def test_triage_skips_low_tiles_and_keeps_high_ones(mean_backend, triaged):
    image = phantom(600, 500, spots=(SPOT,))
    backend = mean_backend(P)
    result = scan_one(backend, image, threshold=0.3, triage=Triage.from_bundle(triaged))
    grid = result.grid
    peaks = np.array([image[y : y + P, x : x + P].max() for y, x in zip(grid.ys, grid.xs)])
    kept = np.flatnonzero(peaks / 255.0 >= TRIAGE_AT)
    assert 0 < kept.size < len(grid)  # the spot's tiles stay, the rest of the breast goes
    np.testing.assert_array_equal(result.triage.kept, kept)
    np.testing.assert_allclose(result.triage.scores, peaks / 255.0, rtol=1e-6)
    assert result.triage.to_dict() == {
        "threshold": TRIAGE_AT,
        "tiles": len(grid),
        "skipped": len(grid) - kept.size,
    }
    # only the kept tiles reached the main model, bit-identical and in grid order
    assert len(backend.seen) == kept.size
    for tile, k in zip(backend.seen, kept):
        np.testing.assert_array_equal(tile, image[grid.ys[k] : grid.ys[k] + P, grid.xs[k] : grid.xs[k] + P])
    means = np.array([image[y : y + P, x : x + P].mean() / 255 for y, x in zip(grid.ys, grid.xs)])
    np.testing.assert_allclose(result.scores[kept], means[kept], rtol=1e-6)
    skipped = np.setdiff1d(np.arange(len(grid)), kept)
    assert (result.scores[skipped] == 0.0).all() and (result.cams[skipped] == 0.0).all()
    assert (result.heat[grid.ii[skipped], grid.jj[skipped]] == 0.0).all()  # the heat map shows them as 0
    assert result.times_ms["triage"] > 0


def test_skipped_tiles_never_produce_findings(mean_backend, triaged):
    """At a main threshold below the tissue's score (0.2 < ~0.25) most breast tiles are suspicious without
    triage; with it, only the spot's tiles can be."""
    image = phantom(600, 500, spots=(SPOT,))
    plain = scan_one(mean_backend(P), image, threshold=0.2, triage=None)
    triaged_result = scan_one(mean_backend(P), image, threshold=0.2, triage=Triage.from_bundle(triaged))
    assert (
        sum(f.tiles for f in plain.findings) > 3 * triaged_result.triage.kept.size
    )  # tissue is "suspicious"
    assert len(triaged_result.findings) == 1
    (finding,) = triaged_result.findings
    assert finding.tiles == triaged_result.triage.kept.size and finding.frame.contains(SPOT[1], SPOT[0])


def test_no_triage_gives_the_same_reports_as_a_bundle_without_triage(tmp_path, fake_backend):
    image = write_dicom(tmp_path / "g.dcm", phantom(600, 500, spots=(SPOT,)))
    plain = write_tiny_bundle(tmp_path / "plain", patch=P, threshold=TINY_THRESHOLD)
    with_triage = add_max_triage(
        write_tiny_bundle(tmp_path / "t", patch=P, threshold=TINY_THRESHOLD), threshold=0.5
    )
    reports = {}
    for name, bundle, extra in (
        ("plain", plain, []),
        ("off", with_triage, ["--no-triage"]),
        ("on", with_triage, []),
    ):
        out = tmp_path / name
        run = CliRunner().invoke(
            scan_cli.cli,
            [str(image), "--model", str(bundle), "--out", str(out), *extra],
            catch_exceptions=False,
        )
        assert run.exit_code == 0, run.output
        report = json.loads((out / "g.json").read_text())
        for varying in ("times_ms", "backend_times_ms", "model"):
            report.pop(varying)
        reports[name] = (report, (out / "g.png").read_bytes(), run.output)
    assert reports["off"][0] == reports["plain"][0] and reports["off"][0]["triage"] is None
    assert reports["off"][1] == reports["plain"][1]  # the overview too
    on = reports["on"][0]
    assert on["triage"]["skipped"] > 0 and on["findings"] == reports["plain"][0]["findings"]
    assert f"triage skipped {on['triage']['skipped']} of {on['triage']['tiles']} tiles" in reports["on"][2]


def one_line_error(run) -> str:
    """The error mc-scan's entry point prints as ``mc-scan: error: <line>`` (run_cli)."""
    assert run.exit_code != 0 and isinstance(run.exception, MicrocalcError)
    assert "\n" not in str(run.exception)
    return str(run.exception)


def test_asking_for_triage_without_a_triage_model_is_one_line(tmp_path, tiny_bundle, fake_backend):
    image = write_dicom(tmp_path / "g.dcm", phantom(600, 500))
    args = [str(image), "--model", str(tiny_bundle), "--triage", "--out", str(tmp_path / "o")]
    line = one_line_error(CliRunner().invoke(scan_cli.cli, args))
    assert (
        line == f"{tiny_bundle}: this bundle has no triage model; add one with mc-export --triage CHECKPOINT"
    )
    assert not (tmp_path / "o" / "g.json").exists()
    with pytest.raises(InputError):
        Triage.from_bundle(Bundle.load(tiny_bundle), wanted=True)
    assert Triage.from_bundle(Bundle.load(tiny_bundle)) is None


def test_a_tampered_triage_model_is_refused_in_one_line(tmp_path, triaged, fake_backend):
    (triaged.path / "triage.onnx").write_bytes((triaged.path / "triage.onnx").read_bytes() + b"\0")
    image = write_dicom(tmp_path / "g.dcm", phantom(600, 500))
    args = [str(image), "--model", str(triaged.path), "--out", str(tmp_path / "o")]
    line = one_line_error(CliRunner().invoke(scan_cli.cli, args))
    assert line.startswith(
        f"{triaged.path / 'triage.onnx'}: SHA-256 differs from bundle.json (stale or altered"
    )
    assert "rebuild it with: mc-export" in line and "--triage" in line  # the command puts the triage back
    assert not (tmp_path / "o" / "g.json").exists()
    (triaged.path / "triage.onnx").unlink()
    with pytest.raises(StaleArtifactError, match="missing triage model"):
        Bundle.load(triaged.path)


def test_a_triage_failure_refuses_that_image_and_the_scan_goes_on(mean_backend, triaged, monkeypatch):
    """ONNX Runtime failing on one image costs that input only: one line naming it, the next is scanned."""
    triage = Triage.from_bundle(triaged)
    score, calls = triage.score, []

    def flaky(pixels, grid):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : bad alloc\nsecond line")
        return score(pixels, grid)

    monkeypatch.setattr(triage, "score", flaky)
    image = phantom(600, 500, spots=(SPOT,))
    scanner = Scanner(
        mean_backend(P),
        reader=lambda path: as_image(image, path.name),
        settings=ScanSettings(threshold=0.3, batch_size=4),
        triage=triage,
    )
    first, second = scanner.scan([Path("a.dcm"), Path("b.dcm")])
    assert isinstance(first, ScanFailure) and isinstance(first.error, InternalError)  # no pixels kept
    message = str(first.error)
    assert message.startswith("a.dcm: the triage model failed on this image") and "\n" not in message
    assert second.error is None and len(second.findings) == 1 and second.triage.kept.size > 0
