"""mc-export --triage: the triage CNN exported for any tile size, with its hash, point and parity."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from microcalc.bundle import Bundle, file_sha256
from microcalc.engine.triage import Triage
from microcalc.errors import InputError
from microcalc.export.pipeline import ExportOptions, export_bundle
from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import save_checkpoint
from microcalc.operating_points import patch_points

MAIN, TRIAGE = 64, 32  # the main model's tile and the triage model's training patch


def _checkpoint(path: Path, arch: str, size: int, *, spacing: float | None = None) -> Path:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=2)
    config = ModelConfig(
        arch=arch,
        classes=("cluster", "normal"),
        positive_index=0,
        patch_size=size,
        pixel_spacing_mm=spacing,
    )
    rng = np.random.default_rng(0)  # overlapping scores: youden, sens0.95, spec0.95 all differ
    points = patch_points(
        np.r_[np.ones(20, bool), np.zeros(20, bool)], np.r_[rng.random(20) + 0.3, rng.random(20)]
    )
    save_checkpoint(path, state_dict=model.state_dict(), config=config, operating_points=points)
    return path


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("triage_export")
    return {
        "main": _checkpoint(root / "main.pt", "smallcnn", MAIN, spacing=0.07),
        "triage": _checkpoint(root / "triage.pt", "triagecnn", TRIAGE, spacing=0.07),
        "triage_05": _checkpoint(root / "triage_05.pt", "triagecnn", TRIAGE, spacing=0.05),
    }


def _export(checkpoints: dict[str, Path], out: Path, **triage) -> dict:
    options = ExportOptions(check_parity=False, **triage)
    return export_bundle(checkpoints["main"], out, options=options, log=lambda line: None)


def test_bundle_round_trip_with_a_triage_model(tmp_path, checkpoints):
    manifest = _export(checkpoints, tmp_path / "b", triage=checkpoints["triage"])
    bundle = Bundle.load(tmp_path / "b")
    entry = bundle.triage
    assert entry is not None and entry.to_dict() == manifest["triage"]
    assert entry.sha256 == file_sha256(tmp_path / "b" / "triage.onnx")
    points = torch.load(checkpoints["triage"], weights_only=False)["operating_points"]["points"]
    # most-sensitive (the default): the lowest threshold, so the highest validation sensitivity
    best = min(points, key=lambda p: p["threshold"])
    assert entry.point.name == best["name"] == "sens0.95" and entry.threshold == best["threshold"]
    assert best["measured"]["sensitivity"] == max(p["measured"]["sensitivity"] for p in points)
    assert (entry.arch, entry.patch_size, entry.pixel_spacing_mm) == ("triagecnn", TRIAGE, 0.07)
    # proven against PyTorch at its own patch size and at the main model's tile size
    assert set(entry.parity) == {f"{TRIAGE}px", f"{MAIN}px"}
    assert all(v["passed"] and v["max_abs_diff"] <= 1e-4 for v in entry.parity.values())
    # the engine runs it on tiles of the main model's size
    triage = Triage.from_bundle(bundle)
    tiles = np.random.default_rng(1).integers(0, 256, (3, 1, MAIN, MAIN), dtype=np.uint8)
    scores = triage.backend(MAIN).infer(tiles).p_cluster
    assert scores.shape == (3,) and ((scores >= 0) & (scores <= 1)).all()
    # without --triage the manifest has no entry and the engine runs none
    _export(checkpoints, tmp_path / "plain")
    assert "triage" not in json.loads((tmp_path / "plain" / "bundle.json").read_text())
    assert Triage.from_bundle(Bundle.load(tmp_path / "plain")) is None


@pytest.mark.parametrize(
    "which, point, message",
    [
        (
            "main",
            "sens0.95",
            "not a triage model (smallcnn); train one with mc-train --arch triagecnn",
        ),  # wrong arch
        (
            "triage",
            "sens0.99",
            "triage.pt: no operating point 'sens0.99'",
        ),  # a point the checkpoint does not have
        ("triage_05", "sens0.95", "trained at 0.05 mm, the main model at 0.07 mm"),  # another spacing
    ],
)
def test_a_wrong_triage_checkpoint_is_refused_and_nothing_is_written(
    tmp_path, checkpoints, which, point, message
):
    with pytest.raises(InputError, match=re.escape(message)) as info:
        _export(checkpoints, tmp_path / "b", triage=checkpoints[which], triage_point=point)
    assert "\n" not in str(info.value)
    assert not (tmp_path / "b").exists() and not list(tmp_path.glob(".b.*"))


def test_the_triage_score_of_a_tile_is_at_least_that_of_any_patch_inside_it():
    """Global max pooling: a larger tile holding a training-size patch (aligned to the network's stride)
    scores at least as high, so a cluster patch the triage keeps is kept inside any main model's tile."""
    torch.manual_seed(0)
    model = create_model("triagecnn", num_classes=2).eval()
    big = torch.rand(1, 3, 128, 128)
    with torch.no_grad():
        whole = torch.softmax(model(big), 1)[0, 0]
        for y, x in ((0, 0), (32, 48), (96, 96)):
            part = torch.softmax(model(big[:, :, y : y + 32, x : x + 32]), 1)[0, 0]
            assert whole >= part - 1e-6
