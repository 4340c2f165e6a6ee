"""The labelled patch set parity is measured on: a folder tree of PNGs, plus the real patches.

Layouts read:

* ``DIR/<class>/*.png`` (what ``mc-synth patches`` writes): ``cluster`` (or ``calc``, ``positive``)
  is the cluster class, every other folder is not;
* ``DIR/*.png`` named ``calc*`` (cluster) or anything else (no cluster), as in
  ``../shared/data/real_patches`` (``calc.png``, ``mass.png``).

Patches are read by :mod:`microcalc.imaging.patches`; those whose side differs from the model's
are resized to it (``fit_patch(policy="resize")``), so a small test
model can still be checked on the 674-pixel real patches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from microcalc.errors import InputError
from microcalc.imaging.patches import fit_patch, is_patch_file, read_patch

POSITIVE_NAMES = ("cluster", "calc", "positive")


@dataclass
class PatchSet:
    """uint8 tiles ``[n, 1, P, P]`` with labels (1 = cluster) and the folders they came from."""

    tiles: np.ndarray
    labels: np.ndarray
    sources: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.labels.size)


def _is_positive(name: str) -> bool:
    return name.lower().startswith(POSITIVE_NAMES)


def list_labelled(folder: str | Path) -> list[tuple[Path, int]]:
    """``(path, label)`` for every image in ``folder`` (see the module docstring for the layouts)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such patch folder")
    items = []
    for path in sorted(folder.iterdir()):
        if path.is_dir():
            label = int(_is_positive(path.name))
            items += [(p, label) for p in sorted(path.iterdir()) if is_patch_file(p)]
        elif is_patch_file(path):
            items.append((path, int(_is_positive(path.stem))))
    if not items:
        raise InputError(f"{folder}: no patches found (expected cluster/ and normal/ folders of PNG, PGM, TIFF or DICOM files)")
    return items


def load_patch_sets(folders: list[Path], *, patch_size: int, limit: int | None = None) -> PatchSet:
    """Read every folder's patches at ``patch_size``; ``limit`` keeps a class-balanced subset per folder."""
    tiles, labels = [], []
    for folder in folders:
        items = list_labelled(folder)
        if limit is not None and len(items) > limit:
            items = _balanced(items, limit)
        for path, label in items:
            tiles.append(fit_patch(read_patch(path), size=patch_size, policy="resize", path=path))
            labels.append(label)
    return PatchSet(tiles=np.stack(tiles)[:, None], labels=np.asarray(labels, dtype=np.int64),
                    sources=[str(f) for f in folders])


def _balanced(items: list[tuple[Path, int]], limit: int) -> list[tuple[Path, int]]:
    """Interleave the classes so the first ``limit`` items hold both in equal shares where possible."""
    pos = [i for i in items if i[1] == 1]
    neg = [i for i in items if i[1] == 0]
    out = []
    for k in range(max(len(pos), len(neg))):
        out += [x[k] for x in (pos, neg) if k < len(x)]
    return out[:limit]
