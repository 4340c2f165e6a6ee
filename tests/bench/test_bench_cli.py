"""Small-model runs of mc-bench: report structure, parity verdicts (a perturbed model must fail), errors.

No timing thresholds: figures depend on the machine; only their presence and consistency are checked.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from microcalc.bench.cli import cli
from microcalc.bench.report import structure_errors

# The shared fixtures run mc-synth, mc-train and mc-export; skip visibly until those commands exist.
pytest.importorskip("microcalc.synth.cli", reason="mc-synth has not landed yet (microcalc.synth.cli)")
pytestmark = pytest.mark.xdist_group("small_bundle")  # one xdist worker builds the session bundle once
FAST = ["--repeats", "2", "--warmup", "1", "--baseline-tiles", "2", "--parity-limit", "40"]


@pytest.fixture(scope="module")
def mammogram(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 700x560 8-bit image with a bright 'breast' on a black background (the reader takes PNG)."""
    rng = np.random.default_rng(0)
    img = np.zeros((700, 560), np.uint8)
    img[40:660, :420] = rng.integers(60, 200, (620, 420), dtype=np.uint8)
    path = tmp_path_factory.mktemp("mammo") / "mammo.png"
    Image.fromarray(img).save(path)
    return path


def _bench(args: list[str]) -> dict:
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def report(
    small_bundle: Path, synth_patches: Path, mammogram: Path, tmp_path_factory: pytest.TempPathFactory
):
    out = tmp_path_factory.mktemp("bench")
    _bench(
        [
            "--model",
            str(small_bundle),
            "--backends",
            "onnxruntime,no-such-backend",
            "--precisions",
            "fp32,int8",
            "--batch-sizes",
            "1,4",
            "--patches",
            str(synth_patches),
            "--mammogram",
            str(mammogram),
            "--scan-stream",
            "2",
            "--out",
            str(out / "r.json"),
            "--markdown",
            str(out / "r.md"),
            *FAST,
        ]
    )
    return json.loads((out / "r.json").read_text()), (out / "r.md").read_text()


def test_report_keeps_its_stable_keys(report):
    data, _ = report
    assert structure_errors(data) == []
    # one run per precision x batch size, in order
    assert [(r["precision"], r["batch_size"]) for r in data["runs"]] == [
        ("fp32", 1),
        ("fp32", 4),
        ("int8", 1),
        ("int8", 4),
    ]
    for run in data["runs"]:
        assert run["patches_per_s"] > 0
        assert run["latency_ms"]["p50"] <= run["latency_ms"]["p90"] <= run["latency_ms"]["p99"]
        assert run["speedup_vs_baseline"] == pytest.approx(
            run["patches_per_s"] / data["baseline"]["patches_per_s"]
        )


def test_parity_verdicts_are_computed(report):
    data, _ = report
    fp32 = data["runs"][0]["parity"]
    assert fp32["passed"] is True and fp32["max_abs_diff"] <= 1e-4  # the ONNX FP32 graph matches PyTorch
    assert data["parity_set"]["patches"] == 40 and data["parity_set"]["positives"] == 20
    int8 = data["runs"][2]["parity"]
    assert 0.0 <= int8["label_agreement"] <= 1.0 and int8["auc"] is not None
    assert int8["passed"] is (int8["label_agreement"] >= 0.99 and abs(int8["delta_auc"]) <= 0.005)


def test_unavailable_backend_is_listed_with_its_reason(report):
    data, text = report
    skipped = {(s["backend"], s["precision"]) for s in data["skipped"]}
    assert skipped == {("no-such-backend", "fp32"), ("no-such-backend", "int8")}
    assert all(s["reason"] for s in data["skipped"])
    assert "#### Not run here" in text and "no-such-backend fp32:" in text


def test_scan_uses_fastest_passing_variant(report):
    data, text = report
    scan = data["scan"]
    passing = [r for r in data["runs"] if r["parity"]["passed"]]
    best = max(passing, key=lambda r: r["patches_per_s"])
    assert (scan["precision"], scan["batch_size"]) == (best["precision"], best["batch_size"])
    assert scan["tiles"] > 0 and scan["shape"] == [700, 560]
    assert set(scan["stages_ms"]) == {"decode", "resample", "tiling", "inference", "stitching"}
    assert scan["triage"] is None  # a bundle without a triage model: every tile, no triage stage
    assert scan["efficiency"] == pytest.approx(scan["model_only_ms"] / scan["wall_ms"])
    front = scan["decode_in_front"]  # the same image again, its decode not hidden by the backend's start-up
    assert front["efficiency"] == pytest.approx(front["model_only_ms"] / front["wall_ms"])
    assert scan["startup_ms"] > 0 and "decode in front" in text
    assert scan["stream"]["images"] == 2  # --scan-stream 2: the image scanned twice in one run
    stream = scan["stream"]  # its own model-only run, right after it, for the list's tiles
    assert stream["efficiency"] == pytest.approx(
        stream["model_only_ms"] / (stream["wall_ms_per_image"] * stream["images"])
    )
    assert "#### End-to-end scan" in text and "| pytorch eager (baseline) | fp32 | 1 |" in text


def _perturbed_copy(bundle: Path, dst: Path, scale: float) -> Path:
    """A copy of ``bundle`` whose FP32 ONNX weights are all scaled, with its manifest hash updated."""
    import onnx
    from onnx import numpy_helper

    from microcalc.bundle import file_sha256

    shutil.copytree(bundle, dst)
    manifest = json.loads((dst / "bundle.json").read_text())
    entry = next(v for v in manifest["variants"] if v["precision"] == "fp32" and v["format"] == "onnx")
    model = onnx.load(str(dst / entry["file"]))
    for init in model.graph.initializer:
        arr = numpy_helper.to_array(init)
        if arr.dtype == np.float32 and arr.ndim >= 2:  # conv and dense weights
            init.CopyFrom(numpy_helper.from_array(arr * np.float32(scale), init.name))
    onnx.save(model, str(dst / entry["file"]))
    entry["sha256"] = file_sha256(dst / entry["file"])
    (dst / "bundle.json").write_text(json.dumps(manifest))
    return dst


def test_perturbed_model_fails_parity(small_bundle: Path, synth_patches: Path, tmp_path: Path):
    bundle = _perturbed_copy(small_bundle, tmp_path / "perturbed", scale=1.5)
    _bench(
        [
            "--model",
            str(bundle),
            "--backends",
            "onnxruntime",
            "--precisions",
            "fp32",
            "--batch-sizes",
            "2",
            "--patches",
            str(synth_patches),
            "--no-scan",
            "--out",
            str(tmp_path / "r.json"),
            *FAST,
        ]
    )
    data = json.loads((tmp_path / "r.json").read_text())
    parity = data["runs"][0]["parity"]
    assert parity["passed"] is False and parity["max_abs_diff"] > 1e-4
    assert parity["failures"][0].startswith("max |dp|")
    assert data["scan"] is None


def test_timed_method_and_worklist_decoded_in_processes(
    small_bundle: Path, synth_patches: Path, mammogram: Path, tmp_path: Path
):
    """--duration/--in-flight (trtexec's method) and a worklist prepared in a decoding process."""
    worklist = tmp_path / "worklist"
    worklist.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        shutil.copy(mammogram, worklist / name)
    (worklist / "a.json").write_text("{}")  # ground truth beside an image is not an input
    _bench(
        [
            "--model",
            str(small_bundle),
            "--backends",
            "onnxruntime",
            "--precisions",
            "fp32",
            "--batch-sizes",
            "4",
            "--patches",
            str(synth_patches),
            "--mammogram",
            str(mammogram),
            "--duration",
            "0.2",
            "--warmup-ms",
            "20",
            "--in-flight",
            "2",
            "--worklist",
            str(worklist),
            "--decode-workers",
            "1",
            "--out",
            str(tmp_path / "r.json"),
            "--markdown",
            str(tmp_path / "r.md"),
            "--baseline-tiles",
            "2",
            "--parity-limit",
            "20",
            "--repeats",
            "1",
        ]
    )
    report = json.loads((tmp_path / "r.json").read_text())
    run, stream = report["runs"][0], report["scan"]["stream"]
    assert structure_errors(report) == []
    assert run["in_flight"] == 2 and run["patches_per_s"] == pytest.approx(
        run["batches"] * 4 / run["seconds"]
    )
    assert report["settings"]["method"].startswith(
        "timed: 20 ms warm-up, then >= 0.2 s with 2 batches in flight"
    )
    assert (
        stream["images"] == 3
        and stream["decode_workers"] == 1
        and stream["tiles"] == 3 * report["scan"]["tiles"]
    )
    assert "decoded in 1 processes" in (tmp_path / "r.md").read_text()
