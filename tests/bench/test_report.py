"""Report schema check, best-variant choice, JSON writer and Markdown tables on a hand-made report."""

import json
import math

import pytest

from microcalc.bench.markdown import render
from microcalc.bench.report import best_run, structure_errors, write_json
from microcalc.bench.targets import target_lines

LAT = {"p50": 10.0, "p90": 12.0, "p99": 13.0, "mean": 10.5}
PASS = {
    "max_abs_diff": 1e-5,
    "mean_abs_diff": 1e-6,
    "label_agreement": 1.0,
    "auc": 0.9,
    "delta_auc": 0.0,
    "passed": True,
    "failures": [],
}
FAIL = {**PASS, "max_abs_diff": 0.3, "passed": False, "failures": ["max |dp| 0.3 > 0.0001"]}


def make_report():
    def run(precision, batch, pps, parity):
        return {
            "backend": "onnxruntime",
            "precision": precision,
            "batch_size": batch,
            "patches_per_s": pps,
            "latency_ms": dict(LAT),
            "stages_ms": None,
            "speedup_vs_baseline": pps / 2.0,
            "parity": dict(parity),
        }

    return {
        "machine": {
            "cpu": {"summary": "Test CPU (2 cores)"},
            "gpus": [],
            "os": "Linux",
            "python": "3.11",
            "libraries": {"numpy": "2"},
        },
        "model": {"arch": "smallcnn", "patch_size": 128},
        "baseline": {"patches_per_s": 2.0, "latency_ms": dict(LAT)},
        "runs": [run("fp32", 8, 20.0, PASS), run("int8", 8, 50.0, FAIL), run("fp16", 8, 30.0, PASS)],
        "skipped": [{"backend": "tensorrt_rtx", "precision": "fp16", "reason": "no NVIDIA GPU"}],
        "scan": {
            "backend": "onnxruntime",
            "precision": "fp16",
            "batch_size": 8,
            "shape": [4096, 3328],
            "tiles": 40,
            "wall_ms": 1000.0,
            "stages_ms": {"decode": 50.0, "tiling": 20.0, "inference": 900.0, "stitching": 5.0},
            "model_only_ms": 920.0,
            "efficiency": 0.92,
            "stream": {"images": 3, "wall_ms_per_image": 950.0, "efficiency": 920.0 / 950.0},
        },
        "parity_set": {"patches": 6},
    }


def test_complete_report_has_no_structure_errors():
    assert structure_errors(make_report()) == []


@pytest.mark.parametrize(
    "damage, missing",
    [
        (lambda r: r.pop("scan"), "scan"),  # top-level key gone
        (lambda r: r["runs"][0].pop("speedup_vs_baseline"), "runs[0].speedup_vs_baseline"),  # run key gone
        (lambda r: r["runs"][1]["latency_ms"].pop("p99"), "runs[1].latency_ms.p99"),  # percentile gone
        (lambda r: r["runs"][2]["parity"].pop("delta_auc"), "runs[2].parity.delta_auc"),  # parity key gone
        (lambda r: r["scan"].pop("efficiency"), "scan.efficiency"),  # scan key gone
    ],
)
def test_structure_errors_name_the_missing_key(damage, missing):
    report = make_report()
    damage(report)
    assert missing in structure_errors(report)


def test_best_run_is_fastest_passing():
    best = best_run(make_report())
    assert (best["precision"], best["patches_per_s"]) == ("fp16", 30.0)  # int8 is faster but fails parity


def test_json_writer_maps_nan_to_null(tmp_path):
    report = make_report()
    report["runs"][0]["parity"] = {**PASS, "auc": math.nan}
    write_json(report, tmp_path / "r.json")
    loaded = json.loads((tmp_path / "r.json").read_text())
    assert loaded["runs"][0]["parity"]["auc"] is None
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind


@pytest.mark.parametrize(
    "min_speedup, min_efficiency, first, second",
    [
        (12.0, 0.9, "met", "met"),  # 15x >= 12x, 0.92 >= 0.9
        (20.0, 0.9, "MISSED", "met"),  # 15x < 20x
        (12.0, 0.95, "met", "MISSED"),  # 0.92 < 0.95 (the GPU target)
    ],
)
def test_target_verdicts(min_speedup, min_efficiency, first, second):
    lines = target_lines(make_report(), min_speedup=min_speedup, min_efficiency=min_efficiency)
    assert lines[0].endswith(f"{first}.") and lines[1].endswith(f"{second}.")
    assert "3 scans in a row: 0.968" in lines[2]


def test_markdown_has_every_table():
    report = {**make_report(), "created": "2026-11-23T14:00:00Z"}
    text = render(report, min_speedup=12, min_efficiency=0.9)
    assert text.splitlines()[0].endswith("px, 2026-11-23T14:00:00Z")  # the title says when it ran
    assert "| pytorch eager (baseline) | fp32 | 1 | 2.00 |" in text
    assert "FAIL: max |dp| 0.3 > 0.0001" in text  # the failing variant says why
    assert "tensorrt_rtx fp16: no NVIDIA GPU" in text  # unavailable backends are listed
    assert "| 0.920 |" in text  # scan efficiency


def test_markdown_shows_cpu_efficiency_load_and_the_tuned_alternatives():
    report = make_report()
    report["machine"]["load_average"] = [31.4, 30.0, 25.0]
    report["scan"].update(cpu_efficiency=0.95)
    report["scan"]["stream"].update(model_only_ms=2790.0, cpu_efficiency=0.97)
    alternative = {"hint": "THROUGHPUT", "pinning": True, "streams": 2, "wall_ms_per_tile": 50.0}
    report["tuning"] = {
        "backend": "openvino",
        "precision": "int8",
        "batch_size": 8,
        "cache": "/home/x/.microcalc/tuning/host.json",
        "chosen": "latency-unpinned",
        "alternatives": [
            {**alternative, "name": "throughput-pinned", "cpu_ms_per_tile": 100.0},
            {
                **alternative,
                "name": "latency-unpinned",
                "streams": 1,
                "wall_ms_per_tile": 40.0,
                "cpu_ms_per_tile": 90.0,
            },
        ],
    }
    text = render(report, min_speedup=12, min_efficiency=0.9)
    assert "Load average at the start (1/5/15): [31.4, 30.0, 25.0]" in text
    assert (
        "| 0.920 (CPU 0.950) |" in text and "| 930 per image |" in text
    )  # the worklist's own model-only run
    assert (
        "| latency-unpinned (chosen) | 1 | 40.0 | 90.0 |" in text
        and "| throughput-pinned | 2 | 50.0 | 100.0 |" in text
    )
