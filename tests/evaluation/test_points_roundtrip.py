"""Operating points travel from mc-train's checkpoint through mc-export's bundle into mc-scan's report."""

from __future__ import annotations

import json

from click.testing import CliRunner

from microcalc import scan_cli
from microcalc.bundle import Bundle
from microcalc.models.checkpoint import load_checkpoint
from microcalc.synth.dicom_writer import DicomSpec, write_mammogram_dicom
from microcalc.synth.phantom import make_phantom
from tests.conftest import run_cli
from tests.trainer.stand_in import write_patches


def test_points_round_trip_checkpoint_bundle_scan_report(tmp_path):
    data = write_patches(tmp_path / "data", n_per_class=12, size=32, seed=3)
    run_cli(
        "microcalc.trainer.cli_train:cli",
        [
            str(data),
            "--out",
            str(tmp_path / "run"),
            "--epochs",
            "1",
            "--arch",
            "smallcnn",
            "--patch-size",
            "32",
            "--batch-size",
            "8",
            "--quiet",
        ],
    )
    points = load_checkpoint(tmp_path / "run" / "checkpoint.pt").operating_points
    assert points.default == "youden" and len(points.points) == 3

    run_cli(
        "microcalc.export.cli:cli",
        ["--checkpoint", str(tmp_path / "run" / "checkpoint.pt"), "--out", str(tmp_path / "bundle")],
    )
    bundle = Bundle.load(tmp_path / "bundle")
    assert bundle.operating_points == points
    assert bundle.threshold == points.get("youden").threshold

    phantom = make_phantom(seed=2, rows=256, cols=256, clusters=0)
    image = write_mammogram_dicom(tmp_path / "m.dcm", phantom.stored, DicomSpec.from_truth(phantom.truth))
    for asked, expected in ((None, "youden"), ("spec0.95", "spec0.95")):
        out = tmp_path / f"scan-{expected}"
        args = [
            str(image),
            "--model",
            str(tmp_path / "bundle"),
            "--backend",
            "onnxruntime",
            "--out",
            str(out),
        ]
        result = CliRunner().invoke(
            scan_cli.cli, args + (["--operating-point", asked] if asked else []), catch_exceptions=False
        )
        assert result.exit_code == 0, result.output
        report = json.loads((out / "m.json").read_text())
        point = points.get(expected)
        assert report["operating_point"]["name"] == expected and report["operating_point"]["calibrated"]
        assert report["operating_point"]["threshold"] == report["settings"]["threshold"] == point.threshold
        assert report["operating_point"]["level"] == "patch"
        assert f"at {expected} (" in result.stdout
