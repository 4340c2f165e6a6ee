"""mc-export's INT8 graph runs its convolutions as QLinearConv in ONNX Runtime's CPU provider.

Before ``dedicate_activation_qdq`` a residual block's input had one Q/DQ pair shared by its first
convolution and the residual ``Add`` (or the downsample); ONNX Runtime on x86 fused neither and ran
them as float convolutions on weights dequantised at every run (13 of 20 in a ResNet18).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from microcalc.export import int8
from microcalc.export.onnx_graph import export_onnx
from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import load_checkpoint, save_checkpoint
from microcalc.models.tile_model import TileClassifier

PATCH = 32


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random ResNet18 (residual blocks, downsamples) exported as mc-export does, at 32 px."""
    root = tmp_path_factory.mktemp("fusion")
    torch.manual_seed(0)
    config = ModelConfig(
        arch="resnet18", classes=("cluster", "no_cluster"), positive_index=0, patch_size=PATCH
    )
    save_checkpoint(
        root / "checkpoint.pt", state_dict=create_model("resnet18", num_classes=2).state_dict(), config=config
    )
    model = TileClassifier.from_checkpoint(load_checkpoint(root / "checkpoint.pt"))
    export_onnx(model, root / "model.onnx", patch_size=PATCH)
    return root / "model.onnx"


def _tiles(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, PATCH, PATCH), dtype=np.uint8)


def _session(
    path: Path, level: ort.GraphOptimizationLevel, optimized: Path | None = None
) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.log_severity_level = 3
    if optimized is not None:
        options.optimized_model_filepath = str(optimized)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def test_every_quantised_conv_runs_as_qlinearconv(exported: Path, tmp_path: Path) -> None:
    dst = tmp_path / "model.int8.onnx"
    int8.quantize_int8(exported, dst, tiles=_tiles(4, seed=1))
    convs = sum(node.op_type == "Conv" for node in onnx.load(str(exported)).graph.node)
    optimized = tmp_path / "optimized.onnx"
    _session(dst, ort.GraphOptimizationLevel.ORT_ENABLE_ALL, optimized)
    ops = Counter(node.op_type for node in onnx.load(str(optimized), load_external_data=False).graph.node)
    assert convs == 20
    # the first convolution stays float on purpose (module docstring); every other one is integer
    assert ops["Conv"] == 1
    assert ops["QLinearConv"] == convs - 1


def test_dedicated_pairs_compute_the_same_values(exported: Path, tmp_path: Path, monkeypatch) -> None:
    shared, dedicated = tmp_path / "shared.onnx", tmp_path / "dedicated.onnx"
    int8.quantize_int8(exported, dedicated, tiles=_tiles(4, seed=1))
    monkeypatch.setattr(int8, "dedicate_activation_qdq", lambda model: 0)
    int8.quantize_int8(exported, shared, tiles=_tiles(4, seed=1))

    def quantize_nodes(path: Path) -> int:
        return sum(node.op_type == "QuantizeLinear" for node in onnx.load(str(path)).graph.node)

    # ResNet18: 8 block inputs read twice (first conv and residual Add or downsample)
    assert quantize_nodes(dedicated) - quantize_nodes(shared) == 8
    tiles = {"tiles": _tiles(3, seed=2)}
    plain = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    expected = _session(shared, plain).run(None, tiles)
    got = _session(dedicated, plain).run(None, tiles)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
