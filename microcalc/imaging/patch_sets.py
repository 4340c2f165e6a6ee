"""Labelled patch sets: the one container and the one labelling rule for export, bench and training.

A patch's label says whether it shows a cluster: 1 yes, 0 no, -1 unknown. It comes from the
sub-folder the patch sits in, or, for a patch directly in the root folder, from its file name
(``real_patches/calc.png``), always by :class:`LabelRule`:

* the model's positive class (``cluster``, or ``1`` for a model trained on ``1/`` and ``0/``
  folders) and the usual positive names (``cluster``, ``calc``, ``calcification(s)``,
  ``positive``) are 1;
* the model's other classes and the usual negative names (``normal``, ``no_cluster``, ``mass``,
  ``negative``, ``background``) are 0;
* a trailing number is ignored (``calc_01.png`` is ``calc``), case too; anything else is -1.

``mc-export`` (calibration and parity), ``mc-bench`` (parity) and ``mc-train`` (patches at the root
of a class-folder tree) all label with it, so one folder gives every tool the same set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microcalc.errors import InputError
from microcalc.imaging.patches import fit_patch, is_patch_file, read_patch

POSITIVE_NAMES = frozenset({"cluster", "calc", "calcification", "calcifications", "positive"})
NEGATIVE_NAMES = frozenset({"normal", "no_cluster", "mass", "negative", "background"})
_TRAILING_NUMBER = re.compile(r"[-_. ]*\d+$")


@dataclass(frozen=True)
class LabelRule:
    """Names that mean "cluster" (1) and "no cluster" (0); see the module docstring."""

    positive: frozenset[str] = POSITIVE_NAMES
    negative: frozenset[str] = NEGATIVE_NAMES

    @classmethod
    def for_model(cls, classes: Iterable[str], positive_class: str) -> LabelRule:
        """The default names plus a model's own class names (its positive class is 1, the others 0)."""
        others = {c.lower() for c in classes} - {positive_class.lower()}
        return cls(positive=POSITIVE_NAMES | {positive_class.lower()}, negative=(NEGATIVE_NAMES | others))

    def label(self, name: str) -> int:
        """1, 0 or -1 for a folder name or a file stem (``"calc_01"`` -> 1, ``"patch7"`` -> -1)."""
        key = name.strip().lower()
        for candidate in (key, _TRAILING_NUMBER.sub("", key)):
            if candidate in self.positive:
                return 1
            if candidate in self.negative:
                return 0
        return -1

    def label_of(self, path: Path, root: Path) -> int:
        """A patch's label: its folder's name, or its own stem when it lies directly in ``root``."""
        return self.label(path.stem if path.parent == root else path.parent.name)


@dataclass
class PatchSet:
    """uint8 ``tiles [N, 1, P, P]``, ``labels [N]`` (1 cluster, 0 not, -1 unknown) and their files."""

    tiles: np.ndarray
    labels: np.ndarray
    paths: list[Path]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labelled(self) -> bool:
        """True when every patch has a label and both classes occur (so AUC is defined)."""
        return bool(len(self) and (self.labels >= 0).all() and len(set(self.labels.tolist())) == 2)

    def concat(self, other: PatchSet) -> PatchSet:
        return PatchSet(
            np.concatenate([self.tiles, other.tiles]),
            np.concatenate([self.labels, other.labels]),
            self.paths + other.paths,
        )

    @classmethod
    def empty(cls, size: int) -> PatchSet:
        return cls(np.zeros((0, 1, size, size), np.uint8), np.zeros(0, np.int64), [])


def list_labelled(root: str | Path, *, rule: LabelRule = LabelRule()) -> list[tuple[Path, int]]:
    """``(path, label)`` for every patch file under ``root``, sorted, hidden files skipped.

    Raises:
        InputError: ``root`` is not a folder or holds no patches.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(f"{root}: no such patch folder")
    paths = sorted(
        p
        for p in root.rglob("*")
        if is_patch_file(p) and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    if not paths:
        raise InputError(
            f"{root}: no patches found (expected PNG, PGM, TIFF or DICOM files, in class "
            "folders such as cluster/ and normal/)"
        )
    return [(p, rule.label_of(p, root)) for p in paths]


def balanced_subset(items: list[tuple[Path, int]], limit: int, *, seed: int) -> list[tuple[Path, int]]:
    """At most ``limit`` items, the classes in equal shares where possible (a seeded choice within each)."""
    if len(items) <= limit:
        return items
    rng = np.random.default_rng(seed)
    groups = [[items[i] for i in rng.permutation(len(items)) if items[i][1] == label] for label in (1, 0, -1)]
    interleaved = [g[k] for k in range(max(map(len, groups))) for g in groups if k < len(g)]
    return sorted(interleaved[:limit])


def load_patch_set(
    root: str | Path,
    *,
    size: int,
    rule: LabelRule = LabelRule(),
    fit: str = "error",
    skip_other_sizes: bool = False,
    limit: int | None = None,
    seed: int = 0,
) -> PatchSet:
    """Read the patches under ``root`` as a :class:`PatchSet` of ``size`` x ``size`` tiles.

    Args:
        fit: what to do with a patch of another size (:data:`~microcalc.imaging.patches.FIT_POLICIES`).
        skip_other_sizes: leave out patches of another size instead (e.g. 674 px real patches for a
            128 px model).
        limit: keep at most this many, class-balanced (:func:`balanced_subset`).

    Raises:
        InputError: no such folder, no patches, an unreadable patch, or a wrong size with ``fit="error"``.
    """
    items = list_labelled(root, rule=rule)
    if limit is not None:
        items = balanced_subset(items, limit, seed=seed)
    tiles, labels, kept = [], [], []
    for path, label in items:
        pixels = read_patch(path)
        if pixels.shape != (size, size):
            if skip_other_sizes:
                continue
            if fit == "error":  # fit_patch's message names mc-train's --fit, which the callers here lack
                raise InputError(
                    f"{path}: patch is {pixels.shape[1]}x{pixels.shape[0]}, the model takes {size}x{size}"
                )
        tiles.append(fit_patch(pixels, size=size, policy=fit, path=path))
        labels.append(label)
        kept.append(path)
    if not kept:
        return PatchSet.empty(size)
    return PatchSet(np.stack(tiles)[:, None].copy(), np.asarray(labels, dtype=np.int64), kept)
