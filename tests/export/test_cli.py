"""mc-export end to end on a small model: variants, parity, engines, and one-line errors."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from microcalc import parity
from microcalc.bundle import Bundle
from microcalc.export.cli import cli, main
from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import save_checkpoint

SIZE = 64


def _invoke(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, args, standalone_mode=False, catch_exceptions=True)
    return (0 if result.exception is None else 1), result.output + (str(result.exception or ""))


def test_fp32_fp16_int8_and_rtx_engines(small_run: tuple[Path, Path], tmp_path: Path, monkeypatch) -> None:
    pytest.importorskip("tensorrt_rtx", reason="tensorrt_rtx is not installed: pip install 'microcalc[rtx]'")
    # A random model on noise has no ranking worth keeping (its AUC is chance, and INT8 moves it by
    # ~0.04): the delta-AUC bound is for trained models (tests/export/test_small_bundle.py; the
    # bound itself in tests/test_parity.py). Bounds are data, so this test drops that one alone.
    monkeypatch.setitem(parity.BOUNDS, "int8", parity.ParityBounds(min_label_agreement=0.99))
    checkpoint, patches = small_run
    out = tmp_path / "bundle"
    result = CliRunner().invoke(
        cli,
        [
            "--checkpoint",
            str(checkpoint),
            "--out",
            str(out),
            "--fp16",
            "--int8",
            "--calib",
            str(patches),
            "--trt",
            "--max-batch",
            "4",
            "--opt-batch",
            "2",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "recommended" in result.output  # 24 calibration patches is fewer than advised
    bundle = Bundle.load(out)
    assert {(v.precision, v.format) for v in bundle.variants} == {
        (p, f) for p in ("fp32", "fp16", "int8") for f in ("onnx", "tensorrt")
    }
    assert bundle.variant(precision="fp32").parity["max_abs_diff"] <= 1e-4
    assert bundle.variant(precision="fp16").parity["max_abs_diff"] <= 1e-2
    assert bundle.variant(precision="int8").parity["label_agreement"] >= 0.99
    assert bundle.variant(precision="fp16").parity["delta_auc"] is not None  # labelled calibration set
    assert all(v.parity["passed"] for v in bundle.variants if v.format == "onnx")
    engine = bundle.variant(precision="int8", fmt="tensorrt")
    sidecar = bundle.sidecar(engine)
    assert sidecar["library"] == "tensorrt_rtx" and sidecar["precision"] == "int8"
    assert sidecar["onnx_sha256"] == bundle.variant(precision="int8").sha256
    assert sidecar["profile"]["max"] == [4, 1, SIZE, SIZE] and sidecar["compute_capabilities"]
    report = json.loads((out / "parity.json").read_text())
    assert report["patches"] == 24 and report["labelled"] is True
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]  # no staging folder left


def test_onnx_runs_and_matches_torch_graph(small_run: tuple[Path, Path], tmp_path: Path) -> None:
    import onnxruntime as ort

    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.models.tile_model import TileClassifier

    checkpoint, _ = small_run
    assert _invoke(["--checkpoint", str(checkpoint), "--out", str(tmp_path / "b"), "--fp16"])[0] == 0
    tiles = np.random.default_rng(5).integers(0, 256, (3, 1, SIZE, SIZE), dtype=np.uint8)
    with torch.no_grad():
        p_ref, cam_ref = TileClassifier.from_checkpoint(load_checkpoint(checkpoint))(torch.from_numpy(tiles))
    for name, atol in (("model.onnx", 1e-5), ("model.fp16.onnx", 1e-2)):  # per-row: precision and its bound
        session = ort.InferenceSession(str(tmp_path / "b" / name), providers=["CPUExecutionProvider"])
        p, cam = session.run(None, {"tiles": tiles})
        assert p.dtype == np.float32 and cam.dtype == np.float32
        np.testing.assert_allclose(p, p_ref.numpy(), atol=atol)
        np.testing.assert_allclose(cam, cam_ref.numpy(), atol=atol * 10 * np.abs(cam_ref.numpy()).max())


def _bad_checkpoint(root: Path) -> Path:
    path = root / "corrupt.pt"
    path.write_bytes(b"not a checkpoint")
    return path


def _unknown_arch(root: Path) -> Path:
    model = create_model("smallcnn", num_classes=2)
    config = ModelConfig(arch="nonexistent_net", classes=("cluster", "no"), positive_index=0, patch_size=SIZE)
    save_checkpoint(root / "unknown.pt", state_dict=model.state_dict(), config=config)
    return root / "unknown.pt"


@pytest.mark.parametrize(
    "make_args, message",
    [
        # missing checkpoint file
        (lambda root, ck, p: ["--checkpoint", str(root / "nope.pt")], "no such checkpoint"),
        # corrupt checkpoint file
        (
            lambda root, ck, p: ["--checkpoint", str(_bad_checkpoint(root))],
            "not a readable PyTorch checkpoint",
        ),
        # architecture nobody registered
        (lambda root, ck, p: ["--checkpoint", str(_unknown_arch(root))], "unknown architecture"),
        # empty calibration folder
        (
            lambda root, ck, p: [
                "--checkpoint",
                str(ck),
                "--int8",
                "--calib",
                str((root / "empty").resolve()) if (root / "empty").mkdir() is None else "",
            ],
            "no patches found",
        ),
        # output folder under a file: cannot be created
        (
            lambda root, ck, p: (
                ["--checkpoint", str(ck), "--out", str(root / "file.txt" / "bundle")]
                if (root / "file.txt").write_text("x")
                else []
            ),
            "cannot write the output folder",
        ),
    ],
)
def test_one_line_errors_and_no_partial_bundle(
    small_run, tmp_path: Path, capsys, monkeypatch, make_args, message
) -> None:
    checkpoint, patches = small_run
    args = make_args(tmp_path, checkpoint, patches)
    if "--out" not in args:
        args += ["--out", str(tmp_path / "bundle")]
    monkeypatch.setattr("sys.argv", ["mc-export", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1
    assert len(err.splitlines()) == 1 and message in err and err.startswith("mc-export: error:")
    assert not (tmp_path / "bundle").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_tensorrt_missing_gives_install_hint(small_run, tmp_path: Path, monkeypatch) -> None:
    real_import = importlib.import_module

    def no_tensorrt(name: str, *a, **k):
        if name in ("tensorrt", "tensorrt_rtx"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", no_tensorrt)
    code, output = _invoke(["--checkpoint", str(small_run[0]), "--out", str(tmp_path / "b"), "--trt"])
    assert code == 1 and 'pip install "microcalc[rtx]"' in output
    assert not (tmp_path / "b").exists()


def test_parity_failure_writes_nothing(small_run, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(parity.BOUNDS, "fp32", parity.ParityBounds(max_abs_diff=-1.0))  # impossible bound
    code, output = _invoke(["--checkpoint", str(small_run[0]), "--out", str(tmp_path / "b")])
    assert code == 1 and "fp32: parity with PyTorch failed" in output and "max |dp|" in output
    assert list(tmp_path.iterdir()) == []


def test_unchecked_int8_is_never_chosen_automatically(small_run, tmp_path: Path, monkeypatch) -> None:
    """mc-export --int8 --no-parity used to leave an int8 variant that --precision auto picked as 'passed'."""
    from microcalc.engine import cuda_memory
    from microcalc.engine.backends import selection
    from microcalc.engine.cpu_info import CpuInfo

    checkpoint, patches = small_run
    out = tmp_path / "bundle"
    code, output = _invoke(
        ["--checkpoint", str(checkpoint), "--out", str(out), "--int8", "--calib", str(patches), "--no-parity"]
    )
    assert code == 0, output
    bundle = Bundle.load(out)
    assert bundle.variant(precision="int8").parity["passed"] is False
    monkeypatch.setattr(cuda_memory, "device_count", lambda: 0)
    monkeypatch.setattr(selection, "cpu_info", lambda: CpuInfo("fake AMX CPU", frozenset({"amx_int8"}), 8, 4))
    choice = selection.resolve(bundle=bundle)
    assert choice.precision == "fp32"
    assert "int8 variant did not pass parity (not checked (mc-export --no-parity))" in choice.reason


def test_int8_without_calib_is_a_usage_error(small_run, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["--checkpoint", str(small_run[0]), "--out", str(tmp_path / "b"), "--int8"]
    )
    assert result.exit_code == 2 and "--int8 needs --calib" in result.output


def test_defaults_come_from_microcalc_home(small_run, tmp_path: Path, monkeypatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "checkpoint.pt").write_bytes(small_run[0].read_bytes())
    monkeypatch.setenv("MICROCALC_HOME", str(home))
    monkeypatch.delenv("MICROCALC_CHECKPOINT", raising=False)
    monkeypatch.delenv("MICROCALC_BUNDLE", raising=False)
    assert _invoke(["--fp16"])[0] == 0
    assert Bundle.load(home / "bundle").variant(precision="fp16").file == "model.fp16.onnx"


@pytest.mark.parametrize(
    "args, expected",
    [
        ([], None),  # no spacing anywhere: native grid at scan time
        (["--model-spacing", "0.085"], 0.085),  # a checkpoint without one gets it from the option
    ],
)
def test_model_spacing_goes_into_the_bundle(small_run, tmp_path: Path, args, expected) -> None:
    out = tmp_path / "b"
    code, output = _invoke(["--checkpoint", str(small_run[0]), "--out", str(out), "--no-parity", *args])
    assert code == 0, output
    assert Bundle.load(out).config.pixel_spacing_mm == expected


def test_model_spacing_cannot_contradict_the_checkpoint(tmp_path: Path) -> None:
    from microcalc.errors import InputError
    from microcalc.export.source import with_spacing as model_spacing

    config = ModelConfig(
        arch="smallcnn", classes=("cluster", "no"), positive_index=0, patch_size=SIZE, pixel_spacing_mm=0.07
    )
    assert model_spacing(config, 0.0703, Path("c.pt")).pixel_spacing_mm == 0.07  # agrees: kept as recorded
    with pytest.raises(
        InputError, match=r"c.pt: the checkpoint was trained at 0.07 mm; --model-spacing 0.1 "
    ):
        model_spacing(config, 0.1, Path("c.pt"))
