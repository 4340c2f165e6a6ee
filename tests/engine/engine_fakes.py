"""Engine test helpers, imported by tests as ``engine_fakes``: a fake backend and test images.

The fake backend scores a tile by its mean brightness (``mean / 255``) and returns the tile
block-averaged 8x as its CAM, so expected scores, findings and boxes are exact (MONAI-style).
It records every buffer it is given, so tests can check buffer identity and contents.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microcalc.bundle import Variant, file_sha256, write_manifest
from microcalc.engine.backends.base import Backend, BatchResult, PendingBatch
from microcalc.imaging.types import ImageMeta, Mammogram
from microcalc.model_config import ModelConfig

CAM_BLOCK = 8
TINY_PATCH = 64  # the patch size of the ``tiny_bundle`` fixture
# Without a VOI window the reader min-maxes the breast: grey 60 tissue -> ~2, the 24-px white spot stays
# 255, so tissue tiles score ~0.01 and tiles holding the whole spot 576*255/4096/255 = 0.14.
TINY_THRESHOLD = 0.1


class MeanBackend(Backend):
    """score = tile mean / 255; cam = tile averaged over 8x8 blocks."""

    name = "mean"
    module = "numpy"
    extra = "dev"

    def __init__(self, *, patch: int, max_batch: int = 4) -> None:
        super().__init__(input_shape=(1, patch, patch), max_batch=max_batch)
        self.submitted: list[tuple[int, int]] = []  # (id of the buffer, n)
        self.seen: list[np.ndarray] = []  # copies of the tiles received, in order
        self.allocated: list[int] = []

    def _activate_impl(self) -> None:
        pass

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        buf = super()._host_buffer_impl(batch_size)
        self.allocated.append(id(buf))
        return buf

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        self.submitted.append((id(batch), n))
        tiles = batch[:n, 0].astype(np.float32)
        self.seen.extend(t.copy() for t in batch[:n, 0])
        p = tiles.mean(axis=(1, 2)) / 255.0
        s = tiles.shape[-1] // CAM_BLOCK
        cam = (
            tiles[:, : s * CAM_BLOCK, : s * CAM_BLOCK]
            .reshape(n, s, CAM_BLOCK, s, CAM_BLOCK)
            .mean(axis=(2, 4))
        )
        result = BatchResult(p.astype(np.float32), cam.astype(np.float32), {"compute": 0.0})
        return PendingBatch(lambda: result)


def phantom(
    rows: int = 600, cols: int = 500, *, spots: tuple[tuple[int, int], ...] = ((300, 200),), seed: int = 0
) -> np.ndarray:
    """Dark air, a half-ellipse breast at grey 60 on the left edge, 24 px bright spots (255) at (y, x)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:rows, :cols]
    breast = ((yy - rows / 2) / (rows * 0.45)) ** 2 + (xx / (cols * 0.8)) ** 2 <= 1.0
    img = np.where(breast, 60, 0).astype(np.uint8) + rng.integers(0, 4, (rows, cols), dtype=np.uint8)
    for y, x in spots:
        img[y - 12 : y + 12, x - 12 : x + 12] = 255
    return np.ascontiguousarray(img)


def as_image(
    pixels: np.ndarray, name: str = "img", *, spacing_mm: tuple[float, float] | None = (0.1, 0.1)
) -> Mammogram:
    """A :class:`microcalc.imaging.Mammogram` for tests that bypass DICOM."""
    meta = ImageMeta(
        path=name,
        sop_instance_uid="1.2.3",
        modality="MG",
        laterality="L",
        view="CC",
        rows=pixels.shape[0],
        cols=pixels.shape[1],
        pixel_spacing_mm=spacing_mm,
        photometric="MONOCHROME2",
        transfer_syntax="1.2.840.10008.1.2.1",
        spacing_source="ImagerPixelSpacing" if spacing_mm else None,
    )
    return Mammogram(pixels=pixels, meta=meta)


def write_tiny_bundle(root: Path, *, patch: int, threshold: float, spacing_mm: float | None = None) -> Path:
    """A bundle manifest for a ``patch``-px model recording ``spacing_mm``; its model file is a placeholder
    run by MeanBackend."""
    root.mkdir(parents=True)
    (root / "model.onnx").write_bytes(b"placeholder")
    variant = Variant(
        name="fp32",
        format="onnx",
        precision="fp32",
        file="model.onnx",
        sha256=file_sha256(root / "model.onnx"),
    )
    config = ModelConfig(
        arch="smallcnn",
        classes=("cluster", "no_cluster"),
        positive_index=0,
        patch_size=patch,
        threshold=threshold,
        pixel_spacing_mm=spacing_mm,
    )
    write_manifest(
        root,
        config=config,
        source_checkpoint={"path": "x.pt", "sha256": "0"},
        input_spec={"name": "tiles", "dtype": "uint8", "shape": ["N", 1, patch, patch]},
        outputs=[],
        variants=[variant],
        created="2024-01-01T00:00:00",
        microcalc_version="0.1.0",
    )
    return root


def mean_backend_opener(patch: int):
    """A stand-in for ``microcalc.engine.session.open_backend`` that returns a MeanBackend."""

    def open_backend(name, precision, bundle, *, max_batch):
        variant = bundle.variant(precision="fp32")
        model = {"name": variant.name, "precision": "fp32", "sha256": variant.sha256}
        return MeanBackend(patch=patch, max_batch=max_batch), model, "mean fp32 (test predictor)"

    return open_backend


def add_max_triage(bundle: Path, *, threshold: float) -> Path:
    """Give a bundle a known triage model: ``triage.onnx`` scores a tile ``max / 255`` (any tile size),
    written with ``onnx.helper``, recorded in ``bundle.json`` with its SHA-256 as ``mc-export --triage``
    records it. In :func:`phantom` images only tiles touching a white spot reach 1.0; tissue ~0.25."""
    import json

    import onnx
    from onnx import TensorProto, helper

    from microcalc.operating_points import OperatingPoint
    from microcalc.triage_entry import TRIAGE_FILE, TriageEntry

    graph = helper.make_graph(
        [
            helper.make_node("Cast", ["tiles"], ["x"], to=TensorProto.FLOAT),
            helper.make_node("ReduceMax", ["x"], ["peak"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Div", ["peak", "scale"], ["p_cluster"]),
        ],
        "max_triage",
        [helper.make_tensor_value_info("tiles", TensorProto.UINT8, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("p_cluster", TensorProto.FLOAT, ["N"])],
        [helper.make_tensor("scale", TensorProto.FLOAT, [], [255.0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(bundle / TRIAGE_FILE))
    point = OperatingPoint(name="sens0.95", threshold=threshold, level="patch", criterion="test predictor")
    entry = TriageEntry(
        file=TRIAGE_FILE,
        sha256=file_sha256(bundle / TRIAGE_FILE),
        point=point,
        arch="max",
        patch_size=16,
    )
    manifest = json.loads((bundle / "bundle.json").read_text())
    manifest["triage"] = entry.to_dict()
    (bundle / "bundle.json").write_text(json.dumps(manifest))
    return bundle
