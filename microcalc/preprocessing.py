"""The patch preprocessing a model was trained with, recorded in its checkpoint and bundle.

One spec is applied identically at training, evaluation, export (inside the ONNX graph) and
scanning. This module is numpy-only so the engine can use it without torch.

The published Microcalc-Detect model reads an 8-bit gray patch with OpenCV (gray replicated to
3 channels) and divides the patch by its own maximum (``image / image.max()``), giving float32
values in [0, 1]. ``per_tile_max`` reproduces that. An all-zero tile, which would make the
published code divide by zero, is mapped to zeros by dividing by ``max(tile.max(), 1)``: for any
other uint8 tile the result is identical.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SCALINGS = ("per_tile_max", "fixed_255")


@dataclass(frozen=True)
class Preprocessing:
    """How raw 8-bit tiles become the model's float input.

    Attributes:
        scaling: ``per_tile_max`` divides each tile by its own maximum (the published recipe);
            ``fixed_255`` divides by 255.
        channels: the gray tile is replicated to this many channels (3 for ImageNet-style stems,
            1 for models whose first layer takes one channel).
    """

    scaling: str = "per_tile_max"
    channels: int = 3

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise ValueError(f"unknown scaling {self.scaling!r}; expected one of {', '.join(SCALINGS)}")
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessing:
        return cls(scaling=str(data.get("scaling", "per_tile_max")), channels=int(data.get("channels", 3)))

    def scale(self, tiles: np.ndarray) -> np.ndarray:
        """Scale uint8 tiles ``[N, 1, P, P]`` (or ``[N, P, P]``) to float32 in [0, 1], same shape."""
        if tiles.dtype != np.uint8:
            raise TypeError(f"tiles must be uint8, got {tiles.dtype}")
        x = tiles.astype(np.float32)
        if self.scaling == "fixed_255":
            return x / np.float32(255.0)
        axes = tuple(range(1, x.ndim))
        peak = np.maximum(x.max(axis=axes, keepdims=True), np.float32(1.0))
        return x / peak

    def apply(self, tiles: np.ndarray) -> np.ndarray:
        """Full reference preprocessing: uint8 ``[N, 1, P, P]`` or ``[N, P, P]`` -> float32 ``[N, C, P,
        P]``."""
        if tiles.ndim == 3:
            tiles = tiles[:, None]
        if tiles.ndim != 4 or tiles.shape[1] != 1:
            raise ValueError(f"tiles must have shape [N, 1, P, P] or [N, P, P], got {tiles.shape}")
        x = self.scale(tiles)
        if self.channels == 1:
            return np.ascontiguousarray(x)
        return np.ascontiguousarray(np.repeat(x, self.channels, axis=1))


PUBLISHED = Preprocessing(scaling="per_tile_max", channels=3)
