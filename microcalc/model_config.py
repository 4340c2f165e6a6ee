"""What a model is, independent of its weights: shared by checkpoints and bundles (no torch).

A checkpoint carries its own config (architecture, class names, which class is the positive
"cluster" class, patch size, preprocessing, decision threshold, pixel spacing), so every later
stage reads it from the file instead of from flags the user must remember.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from microcalc.preprocessing import PUBLISHED, Preprocessing

PUBLISHED_PATCH_SIZE = 674
PUBLISHED_CLASSES = ("cluster", "no_cluster")
# Plausible pixel spacings in mm: from micro-CT-like specimen images to coarse digitised film.
MIN_SPACING_MM, MAX_SPACING_MM = 0.005, 5.0


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and I/O contract of a patch classifier.

    Attributes:
        arch: registered architecture name (``microcalc.models.list_models()``).
        classes: class names in logit order.
        positive_index: index of the cluster class in ``classes``.
        patch_size: side of the square input patch in pixels.
        preprocessing: how raw uint8 tiles become model input.
        threshold: default decision threshold on the positive-class probability.
        pixel_spacing_mm: pixel spacing of the training images in mm; the scanner resamples every
            image to it. ``None``: unknown (a foreign checkpoint), images are scanned as they are.
    """

    arch: str
    classes: tuple[str, ...]
    positive_index: int
    patch_size: int
    preprocessing: Preprocessing = field(default=PUBLISHED)
    threshold: float = 0.5
    pixel_spacing_mm: float | None = None

    def __post_init__(self) -> None:
        if len(self.classes) < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {list(self.classes)}")
        if not 0 <= self.positive_index < len(self.classes):
            raise ValueError(f"positive_index {self.positive_index} is outside classes {list(self.classes)}")
        if self.patch_size < 8:
            raise ValueError(f"patch_size must be at least 8 pixels, got {self.patch_size}")
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f"threshold must lie in (0, 1), got {self.threshold}")
        if (
            self.pixel_spacing_mm is not None
            and not MIN_SPACING_MM <= self.pixel_spacing_mm <= MAX_SPACING_MM
        ):
            raise ValueError(
                f"pixel_spacing_mm must lie in {MIN_SPACING_MM:g}..{MAX_SPACING_MM:g} mm, "
                f"got {self.pixel_spacing_mm}"
            )

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def positive_class(self) -> str:
        return self.classes[self.positive_index]

    def to_dict(self) -> dict[str, Any]:
        return {
            "arch": self.arch,
            "classes": list(self.classes),
            "positive_index": self.positive_index,
            "patch_size": self.patch_size,
            "preprocessing": self.preprocessing.to_dict(),
            "threshold": self.threshold,
            "pixel_spacing_mm": self.pixel_spacing_mm,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        return cls(
            arch=str(data["arch"]),
            classes=tuple(str(c) for c in data["classes"]),
            positive_index=int(data["positive_index"]),
            patch_size=int(data["patch_size"]),
            preprocessing=Preprocessing.from_dict(data.get("preprocessing", {})),
            threshold=float(data.get("threshold", 0.5)),
            pixel_spacing_mm=None
            if data.get("pixel_spacing_mm") is None
            else float(data["pixel_spacing_mm"]),
        )


def published_config() -> ModelConfig:
    """The published Microcalc-Detect ResNet101: class 0 = cluster, 674x674, per-patch max scaling."""
    return ModelConfig(
        arch="resnet101",
        classes=PUBLISHED_CLASSES,
        positive_index=0,
        patch_size=PUBLISHED_PATCH_SIZE,
        preprocessing=PUBLISHED,
    )
