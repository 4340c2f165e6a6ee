"""TileClassifier: the uint8 graph equals the 3-channel float reference; CAM equals Grad-CAM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import Checkpoint
from microcalc.models.tile_model import TileClassifier, pooling_matrix
from microcalc.preprocessing import Preprocessing


def _checkpoint(arch: str, size: int, scaling: str = "per_tile_max", channels: int = 3) -> Checkpoint:
    torch.manual_seed(0)
    model = create_model(arch, num_classes=2, in_chans=channels)
    with torch.no_grad():  # non-trivial BatchNorm statistics, so folding is really tested
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.1, 0.1)
    config = ModelConfig(
        arch=arch,
        classes=("no_cluster", "cluster"),
        positive_index=1,
        patch_size=size,
        preprocessing=Preprocessing(scaling=scaling, channels=channels),
    )
    return Checkpoint(config=config, state_dict=model.state_dict(), source="microcalc")


def _grad_cam_reference(ckpt: Checkpoint, tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p_cluster and h*w-scaled, unrectified Grad-CAM with autograd, on the unfolded model."""
    model = ckpt.build_model()
    x = torch.from_numpy(ckpt.config.preprocessing.apply(tiles))
    features = model.forward_features(x).detach().requires_grad_(True)
    logits = model.forward_head(features)
    pos = ckpt.config.positive_index
    (grad,) = torch.autograd.grad(logits[:, pos].sum(), features)
    cam = (grad.sum(dim=(2, 3))[:, :, None, None] * features).sum(1)
    return torch.softmax(logits, 1)[:, pos].detach().numpy(), cam.detach().numpy()


@pytest.mark.parametrize(
    "arch, size, scaling, channels",
    [
        ("smallcnn", 64, "per_tile_max", 3),  # MLP head, 4x4 -> 3x3 pooling (not a divisor)
        ("smallcnn", 48, "fixed_255", 1),  # one-channel model, fixed scaling
        ("resnet18", 96, "per_tile_max", 3),  # global pooling + linear head: CAM is Zhou et al.'s
        ("vgg16_bn", 64, "per_tile_max", 3),  # 2x2 -> 7x7 adaptive pooling, three-layer head
    ],
)
def test_graph_matches_reference_and_grad_cam(arch: str, size: int, scaling: str, channels: int) -> None:
    ckpt = _checkpoint(arch, size, scaling, channels)
    tiles = np.random.default_rng(1).integers(0, 200, (3, 1, size, size), dtype=np.uint8)
    tiles[2] = 0  # all-zero tile: the guard divides by 1
    expected_p, expected_cam = _grad_cam_reference(ckpt, tiles)
    with torch.no_grad():
        p, cam = TileClassifier.from_checkpoint(ckpt)(torch.from_numpy(tiles))
    assert p.shape == (3,) and cam.shape == expected_cam.shape
    np.testing.assert_allclose(p.numpy(), expected_p, atol=1e-5)
    np.testing.assert_allclose(cam.numpy(), expected_cam, atol=1e-4 * max(1.0, np.abs(expected_cam).max()))
    assert np.isfinite(cam.numpy()).all()


def test_folded_graph_has_no_batchnorm_and_one_input_channel() -> None:
    tile_model = TileClassifier.from_checkpoint(_checkpoint("resnet18", 64))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in tile_model.modules())
    assert tile_model.network.conv1.weight.shape[1] == 1


def test_linear_head_cam_is_class_weighted_feature_sum() -> None:
    ckpt = _checkpoint("resnet18", 64)
    tile_model = TileClassifier.from_checkpoint(ckpt)
    tiles = np.random.default_rng(2).integers(0, 255, (2, 1, 64, 64), dtype=np.uint8)
    with torch.no_grad():
        features = tile_model.network.forward_features(tile_model.scale(torch.from_numpy(tiles)))
        _, cam = tile_model(torch.from_numpy(tiles))
        weights = tile_model.network.fc.weight[1].detach()
    np.testing.assert_allclose(cam.numpy(), torch.einsum("k,nkhw->nhw", weights, features).numpy(), atol=1e-5)


def test_pooling_matrix_equals_adaptive_pooling() -> None:
    x = torch.randn(2, 5, 8, 8)
    pooled = (x.flatten(2) @ pooling_matrix((8, 8), (3, 3))).reshape(2, 5, 3, 3)
    torch.testing.assert_close(pooled, torch.nn.functional.adaptive_avg_pool2d(x, (3, 3)))
