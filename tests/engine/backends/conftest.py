"""A tiny bundle built here in seconds (random smallcnn -> TileClassifier -> ONNX fp32/fp16/int8),
so backend tests do not wait for the trained ``small_bundle`` of the session fixtures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

PATCH = 64
N_TILES = 6


def _tiles(n: int, seed: int) -> np.ndarray:
    """Gray tiles with a few bright specks, plus an all-zero tile (the divide-by-max edge case)."""
    rng = np.random.default_rng(seed)
    tiles = rng.integers(0, 120, size=(n, 1, PATCH, PATCH), dtype=np.uint8)
    for t in tiles[1:]:
        ys, xs = rng.integers(0, PATCH, 8), rng.integers(0, PATCH, 8)
        t[0, ys, xs] = 250
    tiles[0] = 0
    return tiles


@pytest.fixture(scope="session")
def tiles() -> np.ndarray:
    return _tiles(N_TILES, seed=3)


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle with fp32, fp16 and int8 (Q/DQ) ONNX variants of a random smallcnn, and its checkpoint."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnx")
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    from microcalc.bundle import Variant, file_sha256, write_manifest
    from microcalc.model_config import ModelConfig
    from microcalc.models.checkpoint import load_checkpoint, save_checkpoint
    from microcalc.models.registry import create_model
    from microcalc.models.tile_model import TileClassifier
    from microcalc.preprocessing import Preprocessing

    root = tmp_path_factory.mktemp("tiny")
    out = root / "bundle"
    out.mkdir()
    torch.manual_seed(0)
    config = ModelConfig(
        arch="smallcnn",
        classes=("cluster", "no_cluster"),
        positive_index=0,
        patch_size=PATCH,
        preprocessing=Preprocessing(scaling="per_tile_max", channels=3),
    )
    net = create_model("smallcnn", num_classes=2, in_chans=3).eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics so that folding is exercised
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    ckpt_path = root / "checkpoint.pt"
    save_checkpoint(ckpt_path, state_dict=net.state_dict(), config=config)
    model = TileClassifier.from_checkpoint(load_checkpoint(ckpt_path)).eval()

    fp32 = out / "model.onnx"
    torch.onnx.export(
        model,
        (torch.from_numpy(_tiles(2, seed=1)),),
        str(fp32),
        input_names=["tiles"],
        output_names=["p_cluster", "cam"],
        dynamic_axes={"tiles": {0: "N"}, "p_cluster": {0: "N"}, "cam": {0: "N"}},
        opset_version=17,
        dynamo=False,
    )
    fp16 = out / "model.fp16.onnx"
    _to_fp16(fp32, fp16)

    class Calib(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{"tiles": _tiles(4, seed=s)} for s in range(10, 14)])

        def get_next(self):
            return next(self.batches, None)

    int8 = out / "model.int8.onnx"
    quantize_static(
        str(fp32),
        str(int8),
        Calib(),
        quant_format=QuantFormat.QDQ,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["Conv", "Gemm"],
    )
    variants = [
        Variant(
            name=p, format="onnx", precision=p, file=f.name, sha256=file_sha256(f), parity={"passed": True}
        )
        for p, f in (("fp32", fp32), ("fp16", fp16), ("int8", int8))
    ]
    write_manifest(
        out,
        config=config,
        source_checkpoint={"path": str(ckpt_path), "sha256": file_sha256(ckpt_path), "source": "microcalc"},
        input_spec={"name": "tiles", "dtype": "uint8", "shape": ["N", 1, PATCH, PATCH]},
        outputs=[
            {"name": "p_cluster", "dtype": "float32", "shape": ["N"]},
            {"name": "cam", "dtype": "float32", "shape": ["N", 4, 4]},
        ],
        variants=variants,
        created="2025-01-01T00:00:00Z",
        microcalc_version="0.1.0",
    )
    return out


def _to_fp16(src: Path, dst: Path) -> None:
    """FP16 weights and math with uint8 input and float32 outputs kept (casts at the edges)."""
    import onnx
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    keep = []  # scaling before the first Conv, casts and the softmax stay float32
    for node in model.graph.node:
        if node.op_type == "Conv":
            break
        keep.append(node.name)
    keep += [n.name for n in model.graph.node if n.op_type in ("Softmax", "Cast")]
    model = float16.convert_float_to_float16(model, keep_io_types=True, node_block_list=keep)
    onnx.save(model, str(dst))


@pytest.fixture(scope="session")
def reference_scores(tiny_bundle: Path, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Torch float32 scores of ``tiles``: the reference every backend is compared with."""
    torch = pytest.importorskip("torch")
    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.models.tile_model import TileClassifier

    ckpt = Path(
        __import__("json").loads((tiny_bundle / "bundle.json").read_text())["source_checkpoint"]["path"]
    )
    model = TileClassifier.from_checkpoint(load_checkpoint(ckpt)).eval()
    with torch.no_grad():
        p, cam = model(torch.from_numpy(tiles))
    return p.numpy(), cam.numpy()


@pytest.fixture()
def fake_cuda(monkeypatch: pytest.MonkeyPatch):
    """A :class:`~tests.engine.backends.cuda_fakes.FakeRuntime` with two devices in place of
    ``cuda.bindings.runtime``, and a fake ``tensorrt_rtx`` whose engines run on it."""
    import sys
    import threading

    from microcalc.engine import cuda_memory
    from tests.engine.backends.cuda_fakes import FakeRuntime, fake_tensorrt

    runtime = FakeRuntime(devices=2)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", runtime)
    monkeypatch.setitem(sys.modules, "tensorrt_rtx", fake_tensorrt(runtime))
    monkeypatch.setattr(cuda_memory, "_thread", threading.local())  # no device remembered from other tests
    return runtime
