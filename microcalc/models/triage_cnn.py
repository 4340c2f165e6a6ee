"""The triage CNN: a cheap first model that scores a tile of any size (Mordang et al. 2016's cascade).

Mordang et al. ("Automatic microcalcification detection in multi-vendor mammography using
convolutional neural networks", IWDM 2016) put a small CNN in front of a larger one so that the
large one sees only what the small one cannot rule out. Here the small one must serve any main
model, a 224 px ResNet18 as well as a 674 px ResNet101, so it is fully convolutional:

* five 3x3 conv blocks (BatchNorm, ReLU, 2x2 max pooling after the first four; 8-16-32-64-64
  channels, about 0.5 GMAC for a 674 px tile against ResNet101's 71) give a feature map whose
  receptive field (78 px, 5.5 mm at 0.07 mm) covers several microcalcifications of a cluster;
* a 1x1 convolution (the classifier, ``classifier.weight`` ``[classes, C, 1, 1]``) gives class
  logits at every position;
* global max pooling, multiple-instance style: the logits of a patch are those at the position
  where the positive class (index 0, as ``mc-train`` orders classes) leads the others most.

Trained on small patches, it scores a larger tile as its most suspicious window; microcalcifications
keep their size in pixels at the same spacing, so the score means the same at 128 or 674 px and can
only grow with the tile (a tile holding a training patch scores at least as high as the patch).
"""

from __future__ import annotations

import torch
from torch import nn

from microcalc.models.base import PatchClassifier
from microcalc.models.registry import register_model

POSITIVE_INDEX = 0  # mc-train puts the positive class first


class TriageCNN(PatchClassifier):
    def __init__(
        self, *, num_classes: int = 2, in_chans: int = 3, widths: tuple[int, ...] = (8, 16, 32, 64, 64)
    ) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"the triage CNN needs at least 2 classes, got {num_classes}")
        layers: list[nn.Module] = []
        channels = in_chans
        for k, w in enumerate(widths):
            layers += [
                nn.Conv2d(channels, w, kernel_size=3, padding=1),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
            ]
            if k < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            channels = w
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.Identity()  # no pooling before the head: it classifies every position
        self.classifier = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.num_features = channels

    def stem_modules(self) -> list[nn.Module]:
        return list(self.features)[:4]

    def position_logits(self, features: torch.Tensor) -> torch.Tensor:
        """``[N, classes, h, w]``: the class logits of every window of the tile."""
        return self.classifier(features)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, classes]`` at each tile's most suspicious position (global max pooling)."""
        logits = self.position_logits(features).flatten(2)  # [N, K, h*w]
        others = torch.cat([logits[:, :POSITIVE_INDEX], logits[:, POSITIVE_INDEX + 1 :]], dim=1)
        margin = logits[:, POSITIVE_INDEX] - torch.logsumexp(others, dim=1)  # [N, h*w]
        best = margin.argmax(dim=1)
        return torch.gather(logits, 2, best[:, None, None].expand(-1, logits.shape[1], 1)).squeeze(2)


@register_model
def triagecnn(*, num_classes: int = 2, **kw) -> TriageCNN:
    return TriageCNN(num_classes=num_classes, **kw)
