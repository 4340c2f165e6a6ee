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
    assert abs(bundle.variant(precision="int8").parity["delta_auc"]) <= 0.005  # a trained model keeps ranks
    assert all(v.parity["passed"] for v in bundle.variants)  # the verdict mc-scan --precision auto trusts


def test_cam_peaks_on_the_cluster(bundle: Bundle, synth_patches: Path) -> None:
    """In confidently positive patches the CAM's maximum lies on the cluster mc-synth drew.

    ``truth.json`` gives each cluster's bbox in patch pixels; the peak CAM cell (stride P/h) must
    overlap the bbox grown by one cell, the CAM's own resolution.
    """
    import json

    import onnxruntime as ort
    from PIL import Image

    truth = json.loads((synth_patches / "truth.json").read_text())["patches"]
    session = ort.InferenceSession(
        str(bundle.file(bundle.variant(precision="fp32"))), providers=["CPUExecutionProvider"]
    )
    names = sorted(n for n, t in truth.items() if t["label"] == "cluster")[:60]
    tiles = np.stack([np.asarray(Image.open(synth_patches / n).convert("L")) for n in names])[:, None]
    p, cam = session.run(None, {"tiles": tiles})
    hits, total = 0, 0
    for name, prob, m in zip(names, p, cam):
        if prob < 0.9:
            continue
        total += 1
        cell = tiles.shape[-1] / m.shape[0]
        cy, cx = np.unravel_index(np.argmax(m), m.shape)
        r0, c0, r1, c1 = truth[name]["cluster"]["bbox_px"]
        hits += (
            r0 - cell <= (cy + 1) * cell
            and cy * cell <= r1 + cell
            and c0 - cell <= (cx + 1) * cell
            and cx * cell <= c1 + cell
        )
    assert total >= 10 and hits / total >= 0.9, (hits, total)
    with onnx_runner(bundle.file(bundle.variant(precision="int8"))) as run:
        assert run(tiles).shape == (len(tiles),)


def test_bundle_carries_the_spacing_of_the_training_data(bundle: Bundle, synth_patches: Path) -> None:
    """mc-synth patches record 0.07 mm in truth.json; mc-train and mc-export carry it to the bundle."""
    import json

    recorded = json.loads((synth_patches / "truth.json").read_text())["spacing_mm"]
    assert bundle.config.pixel_spacing_mm == pytest.approx(recorded) == pytest.approx(0.07)
