"""mc-synth: help texts, outputs, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import sys

import pytest
from click.testing import CliRunner

from microcalc.synth.cli import cli, main


@pytest.mark.parametrize(
    "args, text",
    [
        (["--help"], "Synthetic mammograms"),  # group help
        (["mammogram", "--help"], "--transfer-syntax"),  # subcommand help lists its options
        (["patches", "--help"], "--patch-size"),
    ],
)
def test_help(args, text):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0 and text in result.output


def test_mammogram_writes_dicom_and_truth(tmp_path):
    out = tmp_path / "m.dcm"
    result = CliRunner().invoke(
        cli,
        [
            "mammogram",
            str(out),
            "--rows",
            "1024",
            "--cols",
            "832",
            "--spacing",
            "0.14",
            "--view",
            "MLO",
            "--laterality",
            "R",
            "--clusters",
            "1",
            "--seed",
            "3",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "m.json").read_text())
    assert (truth["rows"], truth["cols"], truth["view"], truth["laterality"]) == (1024, 832, "MLO", "R")
    assert len(truth["clusters"]) == 1 and truth["dicom"] == "m.dcm"
    assert {"center_px", "bbox_px", "calcifications"} <= set(truth["clusters"][0])
    assert "isolated_calcifications" in truth["hard_negatives"]


def test_patches_command(tmp_path):
    result = CliRunner().invoke(
        cli, ["patches", str(tmp_path / "p"), "--n", "4", "--patch-size", "64"], catch_exceptions=False
    )
    assert result.exit_code == 0 and len(list((tmp_path / "p").rglob("*.png"))) == 4


def test_patches_command_matches_a_data_set(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "patches",
            str(tmp_path / "p"),
            "--n",
            "4",
            "--patch-size",
            "60",
            "--spacing",
            "0.085",
            "--framing",
            "inside",
            "--randomise",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    truth = json.loads((tmp_path / "p" / "truth.json").read_text())
    assert (truth["spacing_mm"], truth["framing"], truth["randomised"]) == (0.085, "inside", True)


@pytest.mark.parametrize(
    "args, text",
    [
        (["mammogram", "{tmp}/a.dcm", "--rows", "10"], "image size 10x3328"),  # too small
        (["mammogram", "{tmp}/a.dcm", "--density", "extreme"], "'--density'"),  # unknown density
        (["mammogram", "{tmp}/missing/a.dcm"], "output folder does not exist"),  # unwritable output
        (["patches", "{tmp}/p", "--patch-size", "8"], "'--patch-size'"),  # patch too small
        (["patches", "{tmp}/file.txt"], "is a file"),  # output is a file
        (
            ["patches", "{tmp}/p", "--spacing", "0.001"],
            "pixel spacing 0.001 mm out of range",
        ),  # no such detector
    ],
)
def test_errors_are_one_line(tmp_path, monkeypatch, capsys, args, text):
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.setattr(sys, "argv", ["mc-synth"] + [a.format(tmp=tmp_path) for a in args])
    with pytest.raises(SystemExit) as info:
        main()
    err = capsys.readouterr().err
    assert info.value.code != 0 and "Traceback" not in err
    error_lines = [line for line in err.splitlines() if "rror" in line]
    assert len(error_lines) == 1 and text in error_lines[0]
    assert not (tmp_path / "a.dcm").exists()
