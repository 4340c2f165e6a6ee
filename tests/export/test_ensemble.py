"""mc-export of several checkpoints: one ONNX graph that averages its members, parity, members recorded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from microcalc.bundle import Bundle, file_sha256
from microcalc.engine.backends.selection import create_backend
from microcalc.errors import InputError
from microcalc.export.cli import cli, main
from microcalc.export.parity import onnx_runner
from microcalc.export.pipeline import ExportOptions, export_bundle
from microcalc.export.source import sum_then_divide
from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import save_checkpoint
from microcalc.rebuild import export_command

SIZE = 64
SEEDS = (0, 1, 2)


def _member(root: Path, seed: int, *, arch: str = "smallcnn", size: int = SIZE) -> Path:
    """A random checkpoint with a confident head, and mc-train's metrics.json (its seed) beside it."""
    torch.manual_seed(seed)
    model = create_model(arch, num_classes=2)
    if arch == "smallcnn":
        with torch.no_grad():
            model.classifier[-1].weight.mul_(20.0)
    config = ModelConfig(
        arch=arch, classes=("cluster", "no_cluster"), positive_index=0, patch_size=size, pixel_spacing_mm=0.07
    )
    folder = root / f"{arch}-{size}-seed{seed}"
    folder.mkdir()
    save_checkpoint(folder / "checkpoint.pt", state_dict=model.state_dict(), config=config)
    (folder / "metrics.json").write_text(json.dumps({"options": {"seed": seed}}))
    return folder / "checkpoint.pt"


@pytest.fixture(scope="module")
def members(
    tmp_path_factory: pytest.TempPathFactory, small_run: tuple[Path, Path]
) -> tuple[list[Path], Path]:
    """Three smallcnn checkpoints (seeds 0, 1, 2) and the labelled patch folder of ``small_run``."""
    root = tmp_path_factory.mktemp("ensemble")
    return [_member(root, s) for s in SEEDS], small_run[1]


def _export(paths: list[Path], out: Path, **options) -> dict:
    return export_bundle(paths, out, options=ExportOptions(**options), log=lambda line: None)


def _run(bundle_dir: Path, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(bundle_dir / "model.onnx"), providers=["CPUExecutionProvider"])
    p, cam = session.run(None, {"tiles": tiles})
    return p, cam


def test_the_graph_is_the_mean_of_its_members(members, tmp_path: Path) -> None:
    """Through ONNX Runtime, the ensemble's p_cluster and cam are exactly (m1 + m2 + m3) / 3 of the
    members' own exported graphs (same ops on the same tiles: no tolerance)."""
    paths, _ = members
    _export(paths, tmp_path / "ensemble", check_parity=False)
    tiles = np.random.default_rng(1).integers(0, 256, (7, 1, SIZE, SIZE), dtype=np.uint8)
    tiles[0] = 0  # the all-zero tile: the scaling guard in every member
    singles = []
    for i, path in enumerate(paths):
        _export([path], tmp_path / f"m{i}", check_parity=False)
        singles.append(_run(tmp_path / f"m{i}", tiles))
    p, cam = _run(tmp_path / "ensemble", tiles)
    np.testing.assert_array_equal(p, sum_then_divide([s[0] for s in singles]))
    np.testing.assert_array_equal(cam, sum_then_divide([s[1] for s in singles]))
    assert np.ptp([s[0] for s in singles], axis=0).max() > 1e-3  # the members do differ


def test_parity_members_points_and_backend(members, tmp_path: Path) -> None:
    """Parity against the mean of the members' PyTorch models passes for FP32 and FP16; the manifest
    names each member (SHA-256, seed); patch points are recomputed on the labelled --calib patches;
    the ONNX Runtime backend runs the bundle as any other, the torch backend runs the members' mean;
    the rebuild hint repeats --checkpoint."""
    paths, patches = members
    out = tmp_path / "bundle"
    manifest = _export(paths, out, fp16=True, calib=patches)
    bundle = Bundle.load(out)
    assert all(v.parity["passed"] for v in bundle.variants)
    assert bundle.variant(precision="fp32").parity["max_abs_diff"] <= 1e-4
    recorded = manifest["ensemble"]["members"]
    assert [m["sha256"] for m in recorded] == [file_sha256(p) for p in paths]
    assert [m["seed"] for m in recorded] == list(SEEDS)
    assert json.loads((out / "bundle.json").read_text())["ensemble"] == manifest["ensemble"]
    assert bundle.operating_points.default == "youden"
    assert bundle.operating_points.get("youden").measured["n"] == 24  # the --calib patches
    tiles = np.random.default_rng(2).integers(0, 256, (4, 1, SIZE, SIZE), dtype=np.uint8)
    with create_backend("onnxruntime", bundle, precision="fp32", max_batch=4) as backend:
        result = backend.infer(tiles)
    with onnx_runner(out / "model.onnx") as run:
        np.testing.assert_allclose(result.p_cluster, run(tiles), atol=1e-6)
    assert result.cam.shape[0] == 4
    command = export_command(manifest, out)
    assert command.count("--checkpoint") == 3
    assert cli.make_context("mc-export", command.split()[1:]).params["checkpoint"] == tuple(paths)
    with pytest.raises(InputError, match="ensemble of 3 checkpoints"):
        bundle.source_checkpoint()  # mc-bench's one-checkpoint reference
    assert bundle.source_checkpoints() == [p.resolve() for p in paths]
    with create_backend("torch", bundle, precision="fp32", max_batch=4) as backend:
        np.testing.assert_allclose(backend.infer(tiles).p_cluster, result.p_cluster, atol=1e-4)


def test_without_labelled_calib_the_ensemble_has_no_points(members, tmp_path: Path) -> None:
    """The members' own points (each from its own validation split) are not copied."""
    paths, _ = members
    manifest = _export(paths, tmp_path / "b", check_parity=False)
    assert "operating_points" not in manifest and manifest["threshold"] == 0.5


@pytest.mark.parametrize(
    "other, message",
    [({"arch": "triagecnn"}, "triagecnn at 64 px"), ({"size": 96}, "smallcnn at 96 px")],
)
def test_mixed_members_are_refused_in_one_line(
    members, tmp_path: Path, capsys, monkeypatch, other, message
) -> None:
    paths, _ = members
    odd = _member(tmp_path, 5, **other)
    args = ["--checkpoint", str(paths[0]), "--checkpoint", str(odd), "--out", str(tmp_path / "bundle")]
    monkeypatch.setattr("sys.argv", ["mc-export", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 1 and len(err.splitlines()) == 1
    assert err.startswith(f"mc-export: error: {odd}: {message}") and "cannot join an ensemble" in err
    assert not (tmp_path / "bundle").exists()


def test_a_repeated_checkpoint_is_refused(members, tmp_path: Path) -> None:
    paths, _ = members
    with pytest.raises(InputError, match="given more than once"):
        _export([paths[0], paths[1], paths[0]], tmp_path / "b", check_parity=False)
