"""benchmarks/results_table.py: RESULTS.md's status table is generated from the recorded reports."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("results_table", ROOT / "benchmarks" / "results_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_md_status_table_matches_the_recorded_reports():
    assert _module().main(["--check"]) == 0  # else: python benchmarks/results_table.py --write


def test_a_row_shows_host_kind_best_passing_variant_and_both_efficiencies(tmp_path):
    report = {
        "schema": "microcalc-bench",
        "created": "2026-12-07T15:00:00+00:00",
        "model": {"arch": "resnet18", "patch_size": 674},
        "machine": {
            "cpu": {"model": "AMD EPYC", "physical_cores": 2, "flags": ["avx512f", "avx512_vnni"]},
            "load_average": [31.4, 30.0, 25.0],
        },
        "runs": [
            {
                "backend": "openvino",
                "precision": "int8",
                "batch_size": 8,
                "patches_per_s": 9.0,
                "speedup_vs_baseline": 6.0,
                "parity": {"passed": True},
            },
            {
                "backend": "openvino",
                "precision": "fp32",
                "batch_size": 8,
                "patches_per_s": 20.0,
                "speedup_vs_baseline": 9.0,
                "parity": {"passed": False},
            },
        ],
        "scan": {
            "tiles": 9,
            "efficiency": 0.9,
            "cpu_efficiency": 0.95,
            "triage": {"tiles": 33, "skipped": 24},
            "stream": {"efficiency": 0.97},
        },
    }
    (tmp_path / "cpu-resnet18-674-amd-epyc-vnni.json").write_text(json.dumps(report))
    text = _module().table(tmp_path)
    row = text.splitlines()[2]
    assert "AMD EPYC, 2 cores, no AMX (avx512_vnni)" in row and "| 31.4 |" in row
    assert "openvino int8 b8: 9.00 patches/s, 6.0x" in row  # the faster fp32 failed parity
    assert "9 tiles (triage skipped 24 of 33)" in row and "0.900 (CPU 0.950)" in row and "| 0.970 |" in row
