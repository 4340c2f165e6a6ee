"""Stand-in patch sets: noise patches, clusters carry a few bright 3x3 specks."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from PIL import Image


def write_patches(
    root: Path, *, n_per_class: int, size: int, seed: int, classes: tuple[str, str] = ("cluster", "normal")
) -> Path:
    """``root/<class>/NNN.png`` gray patches; the first class has specks."""
    rng = np.random.default_rng(seed)
    for k, cls in enumerate(classes):
        (root / cls).mkdir(parents=True, exist_ok=True)
        for i in range(n_per_class):
            img = rng.normal(90, 12, (size, size))
            if k == 0:
                for _ in range(4):
                    y, x = rng.integers(2, size - 2, 2)
                    img[y - 1 : y + 2, x - 1 : x + 2] += 80
            Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(root / cls / f"{i:03d}.png")
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
