"""The interface every zoo model shares: features, then an average pool and a classifier head.

:class:`~microcalc.models.tile_model.TileClassifier` takes ``forward_features`` to compute the
class activation map, and training freezes ``stem_modules()`` or trains ``classifier_module()``
alone; so each architecture says only what differs (its layers), and the forward pass is here once.
Layer names stay torchvision's (``features.N``, ``classifier.N``, ``fc``): weight files load strictly.
"""

from __future__ import annotations

import torch
from torch import nn


class PatchClassifier(nn.Module):
    """``forward(x) = classifier(flatten(avgpool(features(x))))``, as torchvision's VGG and ResNet.

    Subclasses set ``avgpool`` and either ``features`` and ``classifier`` (the VGG layout, the
    defaults here) or override :meth:`forward_features` and :meth:`classifier_module` (ResNet).
    """

    avgpool: nn.Module

    def stem_modules(self) -> list[nn.Module]:
        """The early layers ``--freeze partial`` keeps fixed."""
        raise NotImplementedError

    def classifier_module(self) -> nn.Module:
        """The head that ``--freeze head`` trains alone and the CAM reads its weights from."""
        return self.classifier

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Input ``[N, C, H, W]`` -> the last feature map ``[N, num_features, h, w]``."""
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Last feature map -> logits ``[N, num_classes]``."""
        return self.classifier_module()(torch.flatten(self.avgpool(features), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))
