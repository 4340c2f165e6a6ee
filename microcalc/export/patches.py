"""Patch sets for calibration and parity: folders of PNG/PGM/TIFF/DICOM patches as uint8 tiles.

Labels come from the sub-folder a patch sits in: the checkpoint's class names (``cluster``,
``no_cluster``) and the names ``mc-synth patches`` and the published data use (``normal``,
``calc``, ``mass``); a patch directly in the root is labelled by its file name the same way
(``real_patches/calc.png``). Anything else is unlabelled (-1).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microcalc.errors import InputError
from microcalc.imaging.patches import is_patch_file, read_patch
from microcalc.model_config import ModelConfig

POSITIVE_NAMES = {"calc", "calcification", "calcifications", "positive"}
NEGATIVE_NAMES = {"normal", "mass", "negative", "background"}


@dataclass
class PatchSet:
    """``tiles`` uint8 ``[N, 1, P, P]``; ``labels`` int ``[N]`` (1 cluster, 0 not, -1 unknown)."""

    tiles: np.ndarray
    labels: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        """True when every patch has a label and both classes occur (so AUC is defined)."""
        return bool(len(self) and (self.labels >= 0).all() and len(set(self.labels.tolist())) == 2)

    def concat(self, other: "PatchSet") -> "PatchSet":
        return PatchSet(np.concatenate([self.tiles, other.tiles]), np.concatenate([self.labels, other.labels]),
                        self.paths + other.paths)


def label_for(folder: str, config: ModelConfig) -> int:
    """1 for the cluster class, 0 for another class, -1 when the folder name says nothing."""
    name = folder.lower()
    if name == config.positive_class.lower() or name in POSITIVE_NAMES:
        return 1
    if name in {c.lower() for c in config.classes} or name in NEGATIVE_NAMES:
        return 0
    return -1


def find_patches(root: Path) -> list[Path]:
    """Every patch file under ``root``, sorted, so the same folder gives the same set."""
    return sorted(p for p in root.rglob("*") if is_patch_file(p))


def load_patch_set(root: str | Path, *, config: ModelConfig, limit: int | None = None, seed: int = 0,
                   skip_other_sizes: bool = False) -> PatchSet:
    """Read up to ``limit`` patches under ``root`` (a random but seeded subset when there are more).

    Raises:
        InputError: ``root`` is not a folder, holds no patches, or a patch has the wrong size
            (unless ``skip_other_sizes``).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such patch folder")
    paths = find_patches(root)
    if not paths:
        raise InputError(f"{root}: no patches found (expected PNG, PGM, TIFF or DICOM files)")
    if limit is not None and len(paths) > limit:
        keep = np.random.default_rng(seed).choice(len(paths), size=limit, replace=False)
        paths = [paths[i] for i in sorted(keep)]
    size = config.patch_size
    tiles, labels, kept = [], [], []
    for path in paths:
        pixels = read_patch(path)
        if pixels.shape != (size, size):
            if skip_other_sizes:
                continue
            raise InputError(f"{path}: patch is {pixels.shape[1]}x{pixels.shape[0]}, the model takes {size}x{size}")
        tiles.append(pixels)
        labels.append(label_for(path.parent.name if path.parent != root else path.stem, config))
        kept.append(path)
    if not kept:
        return PatchSet(np.zeros((0, 1, size, size), np.uint8), np.zeros(0, np.int64), [])
    return PatchSet(np.stack(tiles)[:, None].copy(), np.asarray(labels, dtype=np.int64), kept)
