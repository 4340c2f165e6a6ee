"""THE reference graph: raw uint8 tiles in, cluster probability and activation map out.

:class:`TileClassifier` wraps a checkpoint's network with everything the scanner would
otherwise do on the host, so every backend (torch, ONNX Runtime, OpenVINO, TensorRT) sees one
input, ``tiles`` uint8 ``[N, 1, P, P]``, and two outputs, ``p_cluster`` float32 ``[N]`` and
``cam`` float32 ``[N, h, w]``:

* cast to float32 and the checkpoint's scaling (``per_tile_max``: divide by the tile's own
  maximum, an all-zero tile divided by 1; ``fixed_255``: divide by 255), exactly
  :meth:`microcalc.preprocessing.Preprocessing.scale`;
* gray-to-3-channel replication folded into the first convolution: ``conv(repeat(x, 3), W)``
  equals ``conv(x, W.sum(dim=1))``, so conv1 does a third of the work and the input is 12x
  smaller than float32 RGB;
* every BatchNorm folded into the convolution before it;
* ``p_cluster = softmax(logits)[:, positive_index]``;
* ``cam``: the class activation map of the cluster class on the last feature map ``F``,
  ``cam = sum_k a_k F_k`` with ``a_k = h*w * mean_ij d z_pos / d F_kij`` (the Grad-CAM weights
  scaled by the map size, computed analytically in the graph, no backward pass). For a head that
  is global average pooling + one linear layer (ResNet, ResNeXt) ``a_k`` is the classifier weight
  ``w[pos, k]``, so this is exactly Zhou et al.'s CAM (2016), and Grad-CAM at that layer is
  ``relu(cam) / (h*w)``. For MLP heads (VGG16-BN, smallcnn) the gradient is propagated through
  the linear layers and their ReLU gates per tile, so ``cam`` is Grad-CAM before its ReLU, on
  the same scale. The map is left unrectified; the scanner applies ``relu`` when it localises.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from microcalc.models.checkpoint import Checkpoint


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d into the convolution that feeds it (in place; model in eval mode).

    Handles the two layouts of the zoo: ``Sequential`` runs ``Conv2d, BatchNorm2d`` and sibling
    attributes ``convN``/``bnN`` (ResNet blocks and stem).

    Raises:
        NotImplementedError: a BatchNorm is left that follows no convolution.
    """
    for module in list(model.modules()):
        if isinstance(module, nn.Sequential):
            children = list(module)
            for i in range(len(children) - 1):
                if isinstance(children[i], nn.Conv2d) and isinstance(children[i + 1], nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(children[i], children[i + 1])
                    module[i + 1] = nn.Identity()
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Conv2d) and name.startswith("conv"):
                bn = getattr(module, "bn" + name[4:], None)
                if isinstance(bn, nn.BatchNorm2d):
                    setattr(module, name, fuse_conv_bn_eval(child, bn))
                    setattr(module, "bn" + name[4:], nn.Identity())
    left = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    if left:
        raise NotImplementedError(f"cannot fold BatchNorm layers that follow no convolution: {left}")
    return model


def fold_gray_replication(model: nn.Module, channels: int) -> nn.Module:
    """Make the first convolution take one channel: sum its weights over the ``channels`` inputs.

    Exact for inputs replicated ``channels`` times (up to float32 summation order).
    """
    first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
    if first.in_channels != channels:
        raise ValueError(
            f"first convolution takes {first.in_channels} channels, preprocessing gives {channels}"
        )
    if channels == 1:
        return model
    with torch.no_grad():
        first.weight = nn.Parameter(first.weight.sum(dim=1, keepdim=True))
    first.in_channels = 1
    return model


def _head_layers(model: nn.Module) -> list[nn.Module]:
    head = model.classifier_module()
    layers = list(head) if isinstance(head, nn.Sequential) else [head]
    for layer in layers:
        if not isinstance(layer, (nn.Linear, nn.ReLU, nn.Dropout)):
            raise NotImplementedError(
                f"class activation maps need a head of Linear/ReLU/Dropout layers, "
                f"found {type(layer).__name__}"
            )
    if not isinstance(layers[-1], nn.Linear):
        raise NotImplementedError("the classifier head must end in a Linear layer")
    return layers


def pooling_matrix(feature_hw: tuple[int, int], output_size: tuple[int, int]) -> torch.Tensor:
    """``[h*w, s*s]`` matrix equal to ``adaptive_avg_pool2d`` from ``feature_hw`` to ``output_size``.

    ONNX has no adaptive pooling whose output size does not divide the input (smallcnn at 128 px
    pools 8x8 to 3x3); as a constant MatMul it exports everywhere and stays exact.
    """
    h, w = feature_hw
    basis = torch.eye(h * w).reshape(h * w, 1, h, w)
    return torch.nn.functional.adaptive_avg_pool2d(basis, output_size).reshape(h * w, -1)


def _output_size(model: nn.Module) -> tuple[int, int]:
    pool = model.avgpool
    if not isinstance(pool, nn.AdaptiveAvgPool2d):
        raise NotImplementedError(
            f"expected an adaptive average pool before the head, found {type(pool).__name__}"
        )
    size = pool.output_size
    h, w = (size, size) if isinstance(size, int) else size
    return int(h), int(w)


def scale_tiles(tiles: torch.Tensor, scaling: str) -> torch.Tensor:
    """uint8 ``[N, 1, H, W]`` -> float32 in [0, 1] in the graph, as ``Preprocessing.scale``
    (``per_tile_max``: divide by the tile's own maximum, an all-zero tile by 1; ``fixed_255``)."""
    x = tiles.to(torch.float32)
    if scaling == "fixed_255":
        return x / 255.0
    peak = torch.amax(x, dim=(1, 2, 3), keepdim=True).clamp_min(1.0)
    return x / peak


class TileClassifier(nn.Module):
    """uint8 tiles ``[N, 1, P, P]`` -> ``(p_cluster [N], cam [N, h, w])``, preprocessing inside.

    Build it with :meth:`from_checkpoint`; the module is in eval mode and has no BatchNorm left.
    """

    def __init__(self, network: nn.Module, *, positive_index: int, scaling: str, patch_size: int) -> None:
        super().__init__()
        if scaling not in ("per_tile_max", "fixed_255"):
            raise ValueError(f"unknown scaling {scaling!r}")
        self.network = network.eval()
        self.positive_index = positive_index
        self.scaling = scaling
        self.patch_size = patch_size
        self.head_layers = nn.ModuleList(_head_layers(network))
        out_size = _output_size(network)
        self.bins = out_size[0] * out_size[1]
        with torch.no_grad():
            fh, fw = network.forward_features(torch.zeros(1, 1, patch_size, patch_size)).shape[-2:]
        self.feature_hw = (int(fh), int(fw))
        self.register_buffer("pool", pooling_matrix(self.feature_hw, out_size), persistent=False)

    @classmethod
    def from_checkpoint(cls, checkpoint: Checkpoint) -> TileClassifier:
        """The checkpoint's network with BatchNorm and gray replication folded in (weights copied)."""
        network = copy.deepcopy(checkpoint.build_model()).eval()
        fold_batchnorm(network)
        fold_gray_replication(network, checkpoint.config.preprocessing.channels)
        return cls(
            network,
            positive_index=checkpoint.config.positive_index,
            scaling=checkpoint.config.preprocessing.scaling,
            patch_size=checkpoint.config.patch_size,
        ).eval()

    def scale(self, tiles: torch.Tensor) -> torch.Tensor:
        """uint8 ``[N, 1, P, P]`` -> float32 in [0, 1], as ``Preprocessing.scale``."""
        return scale_tiles(tiles, self.scaling)

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.network.forward_features(self.scale(tiles))
        if self.bins == 1:
            pooled = features.mean(dim=(2, 3))
        else:
            pooled = torch.matmul(features.flatten(2), self.pool).flatten(1)  # [N, K*s*s], torch's order
        h = pooled
        gates: list[torch.Tensor] = []
        for layer in self.head_layers:
            if isinstance(layer, nn.ReLU):
                h = torch.relu(h)
                gates.append(torch.sign(h))  # ReLU derivative, 0/1 in the graph's own float type
            elif isinstance(layer, nn.Linear):
                gates.append(torch.empty(0))  # placeholder keeps gates aligned with layers
                h = layer(h)
            else:  # Dropout is the identity in eval mode
                gates.append(torch.empty(0))
        p_cluster = torch.softmax(h, dim=1)[:, self.positive_index]
        return p_cluster, self._cam(features, gates)

    def _cam(self, features: torch.Tensor, gates: list[torch.Tensor]) -> torch.Tensor:
        """Analytic backward pass of z_pos from the logits to the pooled features, then to F."""
        last = self.head_layers[-1]
        grad = last.weight[self.positive_index]  # [D] until a ReLU gate makes it per tile
        for layer, gate in zip(reversed(self.head_layers[:-1]), reversed(gates[:-1])):
            if isinstance(layer, nn.ReLU):
                grad = grad * gate
            elif isinstance(layer, nn.Linear):
                grad = grad @ layer.weight
        channels = features.shape[1]
        # Each pooling bin's weights over F sum to 1, so sum_ij dz/dF_kij = sum_bins dz/dpooled_kb.
        alpha = grad.reshape(*grad.shape[:-1], channels, self.bins).sum(dim=-1)
        alpha = alpha.unsqueeze(-2)  # [1, K] or [N, 1, K]
        cam = torch.matmul(alpha, features.flatten(2))  # [N, 1, h*w]
        return cam.reshape(-1, *self.feature_hw)
