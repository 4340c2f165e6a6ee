"""The small 4-conv CNN of the 60x60-patch literature (accuracy 0.93, AUC 0.98 reported).

conv 32-64-128-128 (3x3, ReLU, 2x2 max-pooling each), dropout, dense 256-128-classes.
An adaptive average pool to 3x3 before the dense layers keeps the 60x60 layout
(60 -> 30 -> 15 -> 7 -> 3) while accepting any patch size, so one architecture serves the
fast test models (e.g. 128x128) and 60x60 patches alike.
"""

from __future__ import annotations

from torch import nn

from microcalc.models.base import PatchClassifier
from microcalc.models.registry import register_model


class SmallCNN(PatchClassifier):
    def __init__(
        self,
        *,
        num_classes: int = 2,
        in_chans: int = 3,
        widths: tuple[int, ...] = (32, 64, 128, 128),
        dropout: float = 0.3,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_chans
        for w in widths:
            layers += [
                nn.Conv2d(channels, w, kernel_size=3, padding=1),
                nn.BatchNorm2d(w),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = w
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((3, 3))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(channels * 9, 256),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(256, 128),
            nn.ReLU(inplace=True),
            nn.Linear(128, num_classes),
        )
        self.num_features = channels

    def stem_modules(self) -> list[nn.Module]:
        return [self.features[i] for i in range(8)]


@register_model
def smallcnn(*, num_classes: int = 2, **kw) -> SmallCNN:
    return SmallCNN(num_classes=num_classes, **kw)
