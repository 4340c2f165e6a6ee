"""mc-froc end to end with the known predictor: outputs, truth, calibration of the bundle."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import mean_backend_opener, phantom, write_tiny_bundle

from microcalc.bundle import Bundle, file_sha256
from microcalc.engine import session
from microcalc.evaluation import cli as froc_cli

P = 64
# Windowed so that grey levels map to themselves: MeanBackend scores tissue tiles (grey 60) ~0.24 and a
# tile holding a whole 24-px white spot (576 px at 255) ~0.34, whatever else the image holds.
THRESHOLD = 0.3
CASES = {  # name: (spots, truth rows (row, col, radius_mm) or none for a normal image)
    "hit": (((300, 200),), [(300, 200, 2.0)]),
    "spot_on_normal": (((150, 100),), []),
    "normal": ((), []),
    "missed": ((), [(300, 150, 2.0)]),
}


def windowed(path):
    """Give the test DICOM (stored = grey * 16) a window that maps it back to its grey levels."""
    ds = pydicom.dcmread(path)
    ds.WindowCenter, ds.WindowWidth = 2048, 4096
    ds.save_as(path)


@pytest.fixture
def cases(tmp_path, monkeypatch):
    monkeypatch.setattr(session, "open_backend", mean_backend_opener(P))
    folder = tmp_path / "cases"
    folder.mkdir()
    with open(tmp_path / "truth.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "row", "col", "radius_mm"])
        for k, (name, (spots, truth)) in enumerate(CASES.items()):
            windowed(write_dicom(folder / f"{name}.dcm", phantom(seed=k, spots=spots)))
            writer.writerows([(f"{name}.dcm", *row) for row in truth] or [(f"{name}.dcm", "", "", "")])
    return (
        folder,
        tmp_path / "truth.csv",
        write_tiny_bundle(tmp_path / "bundle", patch=P, threshold=THRESHOLD),
    )


def froc(args):
    return CliRunner().invoke(froc_cli.cli, [str(a) for a in args], catch_exceptions=False)


def test_froc_outputs_at_a_fixed_threshold(tmp_path, cases):
    folder, truth, bundle = cases
    out = tmp_path / "froc"
    result = froc([bundle, folder, "--truth", truth, "--out", out, "--threshold", str(THRESHOLD)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "froc.json").read_text())
    assert (report["images"], report["clusters"], report["normal_images"]) == (4, 2, 2)
    # at 0.3: the spot with a cluster is hit, the spot on a normal image is a false positive, a cluster missed
    assert report["at_operating_point"]["sensitivity"] == 0.5
    assert report["at_operating_point"]["fp_per_image"] == 0.25
    per = {r["input"].rsplit("/", 1)[-1]: r for r in report["per_image"]}
    assert per["hit.dcm"]["detected"] == 1 and per["hit.dcm"]["findings"][0]["cluster"] == 0
    assert per["spot_on_normal.dcm"]["false_positives"] == 1
    assert per["missed.dcm"]["missed_clusters"][0]["radius_px"] == pytest.approx(20.0)  # 2 mm at 0.1 mm
    assert set(report["sensitivity_at_fp"]) == {"0.1", "0.25", "0.5", "1", "2"}
    assert report["image_auc"] is not None and 0.0 <= report["image_auc"] <= 1.0
    with open(out / "froc.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"threshold", "sensitivity", "fp_per_image"}
    assert (out / "froc.png").read_bytes()[:4] == b"\x89PNG"
    assert "cluster sensitivity 0.500, 0.250 false positives per image" in result.stdout


def test_calibrate_adds_image_points_and_keeps_hashes_valid(tmp_path, cases):
    folder, truth, bundle = cases
    model_sha = file_sha256(bundle / "model.onnx")
    result = froc([bundle, folder, "--truth", truth, "--out", tmp_path / "f", "--calibrate"])
    assert result.exit_code == 0, result.output
    loaded = Bundle.load(bundle, verify=True)  # every file's SHA-256 still matches bundle.json
    assert loaded.variants[0].sha256 == model_sha == file_sha256(bundle / "model.onnx")
    points = loaded.operating_points
    assert points.default == "fp0.25" and {"fp0.1", "fp0.25", "fp0.5", "fp1"} <= set(points.names)
    assert loaded.threshold == points.get("fp0.25").threshold == loaded.manifest["threshold"]
    assert points.get("fp0.25").measured["fp_per_image"] <= 0.25 and points.get("fp0.25").level == "image"
    # the calibrated default is what mc-froc (and mc-scan) use next
    result = froc([bundle, folder, "--truth", truth, "--out", tmp_path / "g"])
    report = json.loads((tmp_path / "g" / "froc.json").read_text())
    assert (
        report["operating_point"]["name"] == "fp0.25" and report["at_operating_point"]["fp_per_image"] <= 0.25
    )


def test_missing_truth_is_one_line_before_scanning(tmp_path, cases):
    folder, _, bundle = cases
    result = CliRunner().invoke(froc_cli.cli, [str(bundle), str(folder / "hit.dcm")])
    assert result.exit_code != 0
    assert "hit.dcm: no ground truth (expected hit.json from mc-synth beside it" in str(result.exception)


@pytest.mark.parametrize("extra, resampled", [([], True), (["--native-grid"], False)])
def test_findings_are_judged_in_the_original_grid_at_any_model_spacing(tmp_path, cases, extra, resampled):
    """A 0.05 mm model scans the 0.1 mm cases at twice their pixels; truth stays in the original grid."""
    folder, truth, _ = cases
    bundle = write_tiny_bundle(tmp_path / "b05", patch=P, threshold=THRESHOLD, spacing_mm=0.05)
    out = tmp_path / "froc05"
    result = froc([bundle, folder, "--truth", truth, "--out", out, "--threshold", str(THRESHOLD), *extra])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "froc.json").read_text())
    assert report["at_operating_point"]["sensitivity"] == 0.5  # the hit is still a hit
    assert report["at_operating_point"]["fp_per_image"] == 0.25
    per = {r["input"].rsplit("/", 1)[-1]: r for r in report["per_image"]}
    box = per["hit.dcm"]["findings"][0]["bbox_px"]
    assert box["x0"] <= 200 < box["x1"] and box["y0"] <= 300 < box["y1"] and box["x1"] <= 500
    assert per["missed.dcm"]["missed_clusters"][0]["radius_px"] == pytest.approx(20.0)  # original 0.1 mm grid
    assert (
        report["settings"]["model_spacing_mm"] == 0.05 and report["settings"]["native_grid"] is not resampled
    )


def test_calibrate_refuses_native_grid(tmp_path, cases):
    folder, truth, bundle = cases
    result = CliRunner().invoke(
        froc_cli.cli, [str(bundle), str(folder), "--truth", str(truth), "--calibrate", "--native-grid"]
    )
    assert result.exit_code != 0 and "--calibrate with --native-grid" in result.output


@pytest.mark.parametrize("bits", [8, 16])
def test_froc_accepts_pgm_as_png(tmp_path, monkeypatch, bits):
    """The cases as PNG and as PGM (--spacing 0.1, as the DICOMs' header says) give the same FROC."""
    from pgm_files import write_pgm
    from PIL import Image

    monkeypatch.setattr(session, "open_backend", mean_backend_opener(P))
    rows = [["image", "row", "col", "radius_mm"]]
    for suffix in (".png", ".pgm"):
        folder = tmp_path / suffix[1:]
        folder.mkdir()
        for k, (name, (spots, truth)) in enumerate(CASES.items()):
            grey = phantom(seed=k, spots=spots)
            if suffix == ".pgm":
                write_pgm(folder / f"{name}.pgm", grey, bits=bits)
            else:
                wide = grey if bits == 8 else grey.astype("uint16") * 257
                Image.fromarray(wide).save(folder / f"{name}.png")
            rows += [[f"{name}{suffix}", *row] for row in truth] or [[f"{name}{suffix}", "", "", ""]]
    with open(tmp_path / "truth.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    bundle = write_tiny_bundle(tmp_path / "bundle", patch=P, threshold=THRESHOLD)
    got = {}
    for kind in ("png", "pgm"):
        args = [bundle, tmp_path / kind, "--truth", tmp_path / "truth.csv", "--out", tmp_path / f"f{kind}"]
        result = froc([*args, "--spacing", "0.1", "--threshold", str(THRESHOLD)])
        assert result.exit_code == 0, result.output
        got[kind] = json.loads((tmp_path / f"f{kind}" / "froc.json").read_text())
    assert got["pgm"]["images"] == 4 and got["pgm"]["clusters"] == 2
    assert got["pgm"]["at_operating_point"] == got["png"]["at_operating_point"]
    if bits == 8:  # grey levels as the windowed DICOMs give them: the same verdicts as they get
        assert got["pgm"]["at_operating_point"]["sensitivity"] == 0.5


def test_a_decoder_that_hangs_or_crashes_costs_that_case_only(tmp_path, cases, monkeypatch):
    """mc-froc reads through the session's isolated reader: a hung decoder is killed at
    --decode-timeout (the option its refusal line names), a crashed one is restarted, and the other
    cases are judged as usual."""
    import shutil

    import hostile_reader

    folder, truth, bundle = cases
    here = str(Path(hostile_reader.__file__).parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setattr(session, "read_mammogram", hostile_reader.read)
    for name in ("hang", "crash"):
        shutil.copy(folder / "normal.dcm", folder / f"{name}.dcm")
    with open(truth, "a", newline="") as f:
        f.write("hang.dcm,,,\ncrash.dcm,,,\n")
    out = tmp_path / "froc"
    result = froc(
        [
            bundle,
            folder,
            "--truth",
            truth,
            "--out",
            out,
            "--threshold",
            str(THRESHOLD),
            "--decode-timeout",
            "3",
        ]
    )
    assert result.exit_code == 1, result.output  # two cases failed, named; the rest were judged
    report = json.loads((out / "froc.json").read_text())
    assert sorted(Path(p).name for p in report["failed"]) == ["crash.dcm", "hang.dcm"]
    assert (report["images"], report["clusters"]) == (4, 2)
    assert report["at_operating_point"]["sensitivity"] == 0.5  # as without the hostile cases
    assert "hang.dcm: decoding took longer than 3 s and was abandoned (the decoder process was killed" in (
        result.output
    )
    assert "crash.dcm: the decoder process died while reading it (signal SIGSEGV)" in result.output
