"""The published-format ResNet101 at 674 px: ONNX FP32 equals PyTorch on the real patches, and a
TensorRT-RTX engine builds on the CPU. Slow (ResNet101 at 674x674 on a CPU)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from microcalc.bundle import Bundle
from microcalc.export.cli import cli
from microcalc.export.parity import onnx_runner, torch_reference
from microcalc.models import create_model
from microcalc.models.checkpoint import load_checkpoint

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def published_bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Random weights in the published file format, exported with --fp16 --trt (RTX when installed)."""
    root = tmp_path_factory.mktemp("published")
    torch.manual_seed(1234)
    model = create_model("resnet101", num_classes=2).eval()
    with torch.no_grad():
        model.fc.weight.mul_(50.0)  # probabilities far from 0.5, so a preprocessing slip would show
    checkpoint = root / "PRETRAINED_RESNET101_ADAM_LR5e-06_WD0.001_BS8.tar"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    args = [
        "--checkpoint",
        str(checkpoint),
        "--out",
        str(root / "bundle"),
        "--fp16",
        "--max-batch",
        "4",
        "--opt-batch",
        "2",
    ]
    try:
        import tensorrt_rtx  # noqa: F401

        args.append("--trt")
    except ImportError:
        pass
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return checkpoint, root / "bundle"


def test_onnx_fp32_matches_pytorch_on_real_patches(published_bundle, real_patches_dir: Path) -> None:
    checkpoint, bundle_dir = published_bundle
    bundle = Bundle.load(bundle_dir)
    assert bundle.config.arch == "resnet101" and bundle.config.positive_class == "cluster"
    tiles = np.stack(
        [np.asarray(Image.open(real_patches_dir / n).convert("L")) for n in ("calc.png", "mass.png")]
    )
    tiles = tiles[:, None]
    reference = torch_reference(load_checkpoint(checkpoint))(tiles)  # 3-channel float, Preprocessing.apply
    with onnx_runner(bundle.file(bundle.variant(precision="fp32"))) as run:
        ours = run(tiles)  # 1-channel uint8 graph
    np.testing.assert_allclose(ours, reference, atol=1e-4)
    with onnx_runner(bundle.file(bundle.variant(precision="fp16"))) as run:
        fp16 = run(tiles)
    np.testing.assert_allclose(fp16, reference, atol=1e-2)
    assert bundle.manifest["outputs"][1]["shape"] == ["N", 22, 22]  # 674 / 32, rounded up


def test_rtx_engine_and_sidecar(published_bundle) -> None:
    pytest.importorskip(
        "tensorrt_rtx", reason="tensorrt_rtx cannot be installed here: pip install 'microcalc[rtx]'"
    )
    bundle = Bundle.load(published_bundle[1])
    for precision in ("fp32", "fp16"):
        engine = bundle.variant(precision=precision, fmt="tensorrt")
        sidecar = bundle.sidecar(engine)
        assert sidecar["onnx_sha256"] == bundle.variant(precision=precision).sha256
        assert sidecar["profile"]["opt"] == [2, 1, 674, 674] and sidecar["version"]
        assert bundle.file(engine).stat().st_size > 1_000_000
