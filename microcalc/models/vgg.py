"""VGG16 with batch normalisation, with torchvision's names (features.N, classifier.N)."""

from __future__ import annotations

from torch import nn

from microcalc.models.base import PatchClassifier
from microcalc.models.registry import register_model

_CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]


class VGG(PatchClassifier):
    """torchvision's VGG: conv features, 7x7 adaptive pooling, three-layer classifier."""

    def __init__(
        self, cfg: list, *, num_classes: int = 1000, in_chans: int = 3, dropout: float = 0.5
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_chans
        for v in cfg:
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [
                    nn.Conv2d(channels, v, kernel_size=3, padding=1),
                    nn.BatchNorm2d(v),
                    nn.ReLU(inplace=True),
                ]
                channels = v
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self.num_features = 512
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def stem_modules(self) -> list[nn.Module]:
        """The first two conv blocks (through the second max-pool): frozen by ``--freeze partial``."""
        return [self.features[i] for i in range(14)]


@register_model
def vgg16_bn(*, num_classes: int = 1000, **kw) -> VGG:
    return VGG(_CFG_D, num_classes=num_classes, **kw)
