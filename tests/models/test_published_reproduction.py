"""Our preprocessing + checkpoint reader reproduce the published example code's probabilities.

The published example (icimrak/Microcalc-Detect, example1.py) reads a patch with OpenCV
(BGR, gray replicated), computes ``image / image.max()`` in float64, converts HWC -> CHW float32
(torchvision's ToTensor), runs torchvision's resnet101 with a 2-output fc and applies softmax.
The reference below re-implements exactly those steps with numpy and PIL (no OpenCV or
torchvision here); the weights are random but in the published file format.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from microcalc.models import create_model
from microcalc.models.checkpoint import load_checkpoint


def _published_reference(model: torch.nn.Module, image_path: Path) -> np.ndarray:
    gray = np.asarray(Image.open(image_path).convert("L"))
    bgr = np.repeat(gray[:, :, None], 3, axis=2)  # cv2.imread of a gray PNG
    image = bgr / bgr.max()  # float64, as in the example
    tensor = torch.from_numpy(image.transpose(2, 0, 1).copy()).float()  # ToTensor + .float()
    with torch.no_grad():
        return torch.softmax(model(tensor.unsqueeze(0)), dim=1)[0].numpy()


def test_published_probabilities_reproduced(tmp_path: Path, real_patches_dir: Path) -> None:
    torch.manual_seed(1234)
    published = create_model("resnet101", num_classes=2).eval()
    # Random weights give near-uniform softmax; scale the head so the probabilities are far from
    # 0.5 and a preprocessing mistake would show.
    with torch.no_grad():
        published.fc.weight.mul_(50.0)
    path = tmp_path / "PRETRAINED_RESNET101_ADAM_LR5e-06_WD0.001_BS8.tar"
    torch.save({"state_dict": published.state_dict()}, path)

    ckpt = load_checkpoint(path)
    model = ckpt.build_model()
    spec = ckpt.config.preprocessing
    for name in ("calc.png", "mass.png"):
        expected = _published_reference(published, real_patches_dir / name)
        tile = np.asarray(Image.open(real_patches_dir / name).convert("L"))[None, None]
        assert tile.shape == (1, 1, 674, 674)
        with torch.no_grad():
            ours = torch.softmax(model(torch.from_numpy(spec.apply(tile))), dim=1)[0].numpy()
        np.testing.assert_allclose(ours, expected, atol=1e-5, rtol=0)
        assert ckpt.config.classes[ckpt.config.positive_index] == "cluster"
    assert pytest.approx(float(expected.sum()), abs=1e-6) == 1.0
