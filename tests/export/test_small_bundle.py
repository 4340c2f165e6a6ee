"""The shared small bundle (smallcnn trained on synthetic patches): parity bounds and CAM localisation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microcalc.bundle import Bundle
from microcalc.export.parity import onnx_runner

# The shared fixtures run mc-synth and mc-train; skip visibly until those commands exist.
pytest.importorskip("microcalc.synth.cli", reason="mc-synth has not landed yet (microcalc.synth.cli)")
pytest.importorskip("microcalc.trainer.cli_train", reason="mc-train has not landed yet")


@pytest.fixture(scope="module")
def bundle(small_bundle: Path) -> Bundle:
    return Bundle.load(small_bundle)


def test_variants_meet_bounds(bundle: Bundle) -> None:
    assert bundle.variant(precision="fp32").parity["max_abs_diff"] <= 1e-4
    assert bundle.variant(precision="fp16").parity["max_abs_diff"] <= 1e-2
    assert bundle.variant(precision="int8").parity["label_agreement"] >= 0.99


def test_cam_peaks_on_the_cluster(bundle: Bundle, synth_patches: Path) -> None:
    """In confidently positive patches the CAM's maximum lies near the patch's brightest specks."""
    import onnxruntime as ort
    from PIL import Image

    session = ort.InferenceSession(str(bundle.file(bundle.variant(precision="fp32"))),
                                   providers=["CPUExecutionProvider"])
    paths = sorted((synth_patches / "cluster").glob("*.png"))[:40]
    tiles = np.stack([np.asarray(Image.open(p).convert("L")) for p in paths])[:, None]
    p, cam = session.run(None, {"tiles": tiles})
    hits, total = 0, 0
    for tile, prob, m in zip(tiles[:, 0], p, cam):
        if prob < 0.9:
            continue
        total += 1
        cy, cx = np.unravel_index(np.argmax(m), m.shape)
        cell = tile.shape[0] / m.shape[0]
        bright = tile >= np.percentile(tile, 99.5)  # microcalcifications are the brightest pixels
        ys, xs = np.nonzero(bright)
        dist = np.hypot((ys + 0.5) / cell - (cy + 0.5), (xs + 0.5) / cell - (cx + 0.5)).min()
        hits += dist <= 1.5  # within about one CAM cell of a speck
    assert total >= 5 and hits / total >= 0.8
    assert onnx_runner(str(bundle.file(bundle.variant(precision="int8"))))(tiles).shape == (len(tiles),)
