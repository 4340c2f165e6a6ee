"""The demo's last word: each finding hit or false positive, each true cluster hit or missed."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from microcalc.evaluation import verdict


def _finding(x0, y0, x1, y1, score, rank):
    return {
        "bbox_px": {"x0": x0, "y0": y0, "x1": x1, "y1": y1},
        "centre_px": {"x": (x0 + x1) / 2, "y": (y0 + y1) / 2},
        "score": score,
        "rank": rank,
    }


REPORT = {
    "input": "cases/m1.dcm",
    "laterality": "R",
    "view": "MLO",
    "pixel_spacing_mm": [0.1, 0.1],
    "findings": [_finding(500, 500, 540, 540, 0.4, 2), _finding(300, 280, 340, 320, 0.9, 1)],
}


def test_hit_false_positive_and_missed():
    clusters = np.array([[300.0, 320.0, 20.0], [900.0, 900.0, 20.0]])  # row, col, radius px
    lines = verdict.verdict_lines(REPORT, clusters)
    assert lines == [
        "m1.dcm (R MLO, 2 true clusters): 2 finding(s)",
        "  finding #1 (score 0.900) at row 300, col 320: HIT true cluster 1",
        "  finding #2 (score 0.400) at row 520, col 520: FALSE POSITIVE",
        "  true cluster 1 at row 300, col 320: hit by finding #1",
        "  true cluster 2 at row 900, col 900: MISSED",
    ]


def test_normal_image_clean_or_not():
    clean = {**REPORT, "findings": []}
    assert verdict.verdict_lines(clean, np.zeros((0, 3)))[-1] == "  m1.dcm: clean normal image"
    assert verdict.verdict_lines(REPORT, np.zeros((0, 3)))[-1] == "  m1.dcm: 2 false positive(s)"


def test_cli_reads_reports_and_truth_csv(tmp_path):
    report = tmp_path / "m1.json"
    report.write_text(json.dumps(REPORT))
    truth = tmp_path / "truth.csv"
    truth.write_text("image,row,col,radius_mm\nm1.dcm,300,320,2.0\n")
    result = CliRunner().invoke(verdict.cli, [str(report), "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    assert (
        "HIT true cluster 1" in result.output
        and "true cluster 1 at row 300, col 320: hit by finding #1" in result.output
    )
    (tmp_path / "bad.json").write_text("{")
    result = CliRunner().invoke(verdict.cli, [str(tmp_path / "bad.json"), "--truth", str(truth)])
    assert result.exit_code != 0 and "bad.json: not a readable mc-scan report" in str(result.exception)
