"""mc-scan end to end with a known predictor: outputs, bad inputs, no partial files, no identity."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import TINY_PATCH as P
from engine_fakes import TINY_THRESHOLD, MeanBackend, phantom, write_tiny_bundle
from PIL import Image
from pydicom.uid import JPEGLSLossless

from microcalc import scan_cli
from microcalc.bundle import file_sha256
from microcalc.engine import session


def scan(args: list[str]):
    return CliRunner().invoke(scan_cli.cli, args, catch_exceptions=False)


def test_scan_writes_report_and_overview(tmp_path, tiny_bundle, fake_backend):
    image = write_dicom(tmp_path / "right_mlo.dcm", phantom(600, 500, spots=((300, 200),)))
    out = tmp_path / "out"
    result = scan([str(image), "--model", str(tiny_bundle), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "right_mlo.json").read_text())
    assert report["laterality"] == "R" and report["view"] == "MLO"
    assert (report["rows"], report["cols"], report["pixel_spacing_mm"]) == (600, 500, [0.1, 0.1])
    assert report["model_sha256"] == file_sha256(tiny_bundle / "model.onnx")
    assert report["suspicious"] is True and len(report["findings"]) == 1
    finding = report["findings"][0]
    box = finding["bbox_px"]
    assert box["x0"] <= 200 < box["x1"] and box["y0"] <= 300 < box["y1"]
    assert finding["centre_mm"]["x"] == pytest.approx(finding["centre_px"]["x"] * 0.1)
    assert 0 < report["tiles_scanned"] <= report["tiles_total"]
    assert set(report["times_ms"]) >= {"decode", "tiling", "inference", "stitching", "wall"}
    text = json.dumps(report) + result.output
    for identity in ("Doe", "PID-4242", "19600101"):  # no patient name, ID or birth date anywhere
        assert identity not in text
    with Image.open(out / "right_mlo.png") as png:
        assert png.mode == "RGB" and max(png.size) <= 1024
    assert "right_mlo.json" in result.output


def test_scan_resamples_to_the_model_spacing(tmp_path, fake_backend):
    """A 0.1 mm DICOM for a 0.05 mm model: scanned at twice the pixels, reported in the original grid."""
    bundle = write_tiny_bundle(tmp_path / "b05", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.05)
    image = write_dicom(tmp_path / "g.dcm", phantom(600, 500, spots=((300, 200),)))
    result = scan([str(image), "--model", str(bundle), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "g.json").read_text())
    assert report["resampling"] == {
        "original_spacing_mm": [0.1, 0.1],
        "spacing_source": "ImagerPixelSpacing",
        "model_spacing_mm": 0.05,
        "scale": [2.0, 2.0],
        "resampled": True,
        "scanned_shape": [1200, 1000],
        "note": None,
    }
    assert report["times_ms"]["resample"] > 0 and (report["rows"], report["cols"]) == (600, 500)
    (finding,) = report["findings"]
    box = finding["bbox_px"]
    assert box["x0"] <= 200 < box["x1"] and box["y0"] <= 300 < box["y1"] and box["x1"] <= 500


def test_native_grid_flag_scans_without_resampling(tmp_path, fake_backend):
    bundle = write_tiny_bundle(tmp_path / "b05", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.05)
    image = write_dicom(tmp_path / "g.dcm", phantom(600, 500, spots=((300, 200),)))
    result = scan([str(image), "--model", str(bundle), "--out", str(tmp_path / "o"), "--native-grid"])
    assert result.exit_code == 0, result.output
    resampling = json.loads((tmp_path / "o" / "g.json").read_text())["resampling"]
    assert resampling["resampled"] is False and resampling["scanned_shape"] == [600, 500]
    assert resampling["model_spacing_mm"] == 0.05 and "--native-grid" in resampling["note"]


@pytest.mark.parametrize(
    "extra, spacing, source, note",
    [
        (["--spacing", "0.1"], [0.1, 0.1], "--spacing", None),
        (
            [],
            [0.05, 0.05],
            "assumed: the model's spacing",
            "no --spacing was given: assumed the model's 0.05 mm",
        ),
    ],
)
def test_png_spacing_given_or_assumed(tmp_path, fake_backend, extra, spacing, source, note):
    bundle = write_tiny_bundle(tmp_path / "b05", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.05)
    png = tmp_path / "film.png"
    Image.fromarray(phantom(600, 500, spots=((300, 200),))).save(png)
    result = scan([str(png), "--model", str(bundle), "--out", str(tmp_path / "o"), *extra])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "film.json").read_text())
    resampling = report["resampling"]
    assert (resampling["original_spacing_mm"], resampling["spacing_source"]) == (spacing, source)
    assert (resampling["note"] is None) if note is None else (note in resampling["note"])
    assert report["pixel_spacing_mm"] == spacing
    assert resampling["resampled"] == bool(extra)


def test_json_flag_prints_reports(tmp_path, tiny_bundle, fake_backend):
    spots = [(300, 200), (150, 100)]  # (y, x) of the white spot in im0, im1
    images = [
        write_dicom(tmp_path / f"im{k}.dcm", phantom(seed=k, spots=(spot,))) for k, spot in enumerate(spots)
    ]
    result = scan(
        [str(tmp_path / "im*.dcm"), "--model", str(tiny_bundle), "--out", str(tmp_path / "o"), "--json"]
    )
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    assert [Path(r["input"]).name for r in reports] == [p.name for p in images]
    for report, (y, x) in zip(reports, spots):
        (finding,) = report["findings"]
        box = finding["bbox_px"]
        assert box["x0"] <= x < box["x1"] and box["y0"] <= y < box["y1"]


def _not_dicom(d: Path) -> Path:
    (d / "notes.dcm").write_text("not an image\n")
    return d / "notes.dcm"


def _no_pixels(d: Path) -> Path:
    return write_dicom(d / "nopixels.dcm", None)


def _missing_plugin(d: Path, monkeypatch) -> Path:
    from microcalc.imaging import reader

    monkeypatch.setattr(reader, "get_decoder", lambda ts: SimpleNamespace(is_available=False))
    return write_dicom(d / "jpegls.dcm", phantom(), syntax=JPEGLSLossless)


def _wrong_modality(d: Path) -> Path:
    return write_dicom(d / "chest_ct.dcm", phantom(), modality="CT")


def _too_small(d: Path) -> Path:
    return write_dicom(d / "tiny.dcm", phantom(40, 300))


def _absurd(d: Path) -> Path:
    return write_dicom(d / "absurd.dcm", np.zeros((4, 4), np.uint8), rows=65_000, cols=60_000)


def _truncated(d: Path) -> Path:
    path = write_dicom(d / "cut.dcm", phantom())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize(
    "make, message",
    [
        (_not_dicom, "not a DICOM"),  # a text file with a .dcm name
        (_no_pixels, "no Pixel Data"),  # header only
        (_missing_plugin, "no decoder"),  # JPEG-LS with its pylibjpeg plugin absent
        (_wrong_modality, "not a mammogram"),  # CT refused without --force
        (_too_small, "smaller"),  # 40 rows < one 64-px tile
        (_absurd, "absurd"),  # 65000 x 60000 (3.9 Gpixel) in the header
        (_truncated, "truncated"),  # file cut in half
    ],
)
def test_bad_input_is_one_line_and_others_go_on(
    tmp_path, tiny_bundle, fake_backend, monkeypatch, make, message
):
    inputs = tmp_path / "in"
    inputs.mkdir()
    bad = make(inputs, monkeypatch) if make is _missing_plugin else make(inputs)
    good = write_dicom(inputs / "good.dcm", phantom())
    out = tmp_path / "out"
    # in this process: the monkeypatched plugin lookup would not reach a decoder process, and the
    # decoder process is tested in test_every_input_is_scanned_or_refused_by_name and tests/imaging
    result = scan(
        [str(bad), str(good), "--model", str(tiny_bundle), "--out", str(out), "--isolation", "none"]
    )
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and str(bad) in errors[0] and message in errors[0]
    # no partial or failed outputs: the good image's report, overview and the zoom on its one finding
    assert sorted(p.name for p in out.iterdir()) == ["good.json", "good.png", "good.zoom1.png"]


def test_force_scans_other_modalities(tmp_path, tiny_bundle, fake_backend):
    ct = write_dicom(tmp_path / "ct.dcm", phantom(), modality="CT")
    result = scan([str(ct), "--model", str(tiny_bundle), "--out", str(tmp_path / "o"), "--force"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "o" / "ct.json").is_file()


def test_missing_bundle_says_how_to_make_one(tmp_path):
    result = CliRunner().invoke(scan_cli.cli, ["x.dcm", "--model", str(tmp_path / "nope")])
    assert result.exit_code != 0
    assert "mc-export" in str(result.exception)


def test_png_input_has_no_spacing(tmp_path, tiny_bundle, fake_backend):
    png = tmp_path / "scan.png"
    Image.fromarray(phantom(spots=((300, 200),))).save(png)
    result = scan([str(png), "--model", str(tiny_bundle), "--out", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "o" / "scan.json").read_text())
    assert report["pixel_spacing_mm"] is None and report["sop_instance_uid"] is None
    assert report["findings"] and all(f["bbox_mm"] is None for f in report["findings"])


def test_every_input_is_scanned_or_refused_by_name(tmp_path, tiny_bundle, fake_backend):
    good = [write_dicom(tmp_path / f"good{k}.dcm", phantom(seed=k)) for k in range(2)]
    bad = [_not_dicom(tmp_path), _truncated(tmp_path), tmp_path / "missing.dcm", _too_small(tmp_path)]
    result = scan([*map(str, bad + good), "--model", str(tiny_bundle), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    refused = [line for line in lines if line.startswith("mc-scan: error: ")]
    assert len(refused) == len(bad) and all(str(path) in line for path, line in zip(bad, refused))
    assert lines[-1].startswith("mc-scan: 6 input(s): 2 scanned, 4 refused")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "good0.json",
        "good0.png",
        "good0.zoom1.png",
        "good1.json",
        "good1.png",
        "good1.zoom1.png",
    ]


def test_a_scan_that_stops_names_the_inputs_it_did_not_get_to(tmp_path, tiny_bundle, monkeypatch):
    def open_backend(name, precision, bundle, *, max_batch):
        backend = MeanBackend(patch=P, max_batch=max_batch)

        def lost(batch, n):
            raise RuntimeError("device lost")

        backend._submit_impl = lost
        return backend, {"name": "fp32", "precision": "fp32", "sha256": "0"}, "mean fp32 (failing)"

    monkeypatch.setattr(session, "open_backend", open_backend)
    images = [write_dicom(tmp_path / f"i{k}.dcm", phantom(seed=k)) for k in range(3)]
    result = CliRunner().invoke(
        scan_cli.cli, [*map(str, images), "--model", str(tiny_bundle), "--out", str(tmp_path / "o")]
    )
    assert isinstance(result.exception, RuntimeError)
    refused = [line for line in result.stderr.splitlines() if "not scanned: the scan stopped" in line]
    assert [line.split(": ")[2] for line in refused] == [str(p) for p in images]


def test_report_and_console_name_the_operating_point(tmp_path, tiny_bundle, fake_backend):
    from microcalc.bundle import Bundle
    from microcalc.evaluation.calibrate import write_points
    from microcalc.operating_points import OperatingPoint

    image = write_dicom(tmp_path / "a.dcm", phantom())
    result = scan([str(image), "--model", str(tiny_bundle), "--out", str(tmp_path / "o1")])
    point = json.loads((tmp_path / "o1" / "a.json").read_text())["operating_point"]
    assert point["name"] is None and point["calibrated"] is False and point["threshold"] == TINY_THRESHOLD
    assert "carries no operating points" in point["source"]
    assert "threshold 0.1 (uncalibrated)" in result.stdout and "carries no operating points" in result.stderr

    write_points(
        Bundle.load(tiny_bundle),
        [OperatingPoint(name="fp0.25", threshold=0.12, level="image", criterion="test point")],
    )
    result = scan([str(image), "--model", str(tiny_bundle), "--out", str(tmp_path / "o2")])
    report = json.loads((tmp_path / "o2" / "a.json").read_text())
    assert report["operating_point"]["name"] == "fp0.25" and report["settings"]["threshold"] == 0.12
    assert "at fp0.25 (0.12)" in result.stdout and "operating point fp0.25" in result.stderr

    result = scan(
        [str(image), "--model", str(tiny_bundle), "--out", str(tmp_path / "o3"), "--threshold", "0.3"]
    )
    fixed = json.loads((tmp_path / "o3" / "a.json").read_text())["operating_point"]
    assert fixed["source"].startswith("--threshold")
    result = CliRunner().invoke(
        scan_cli.cli, [str(image), "--model", str(tiny_bundle), "--operating-point", "fp9"]
    )
    assert result.exit_code != 0
    assert "no operating point 'fp9'; this model has: fp0.25" in str(result.exception)
