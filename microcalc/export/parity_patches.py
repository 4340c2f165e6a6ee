"""The labelled patches mc-export proves parity on: the calibration set, or synthetic phantom patches
plus the real patches of ``../shared`` when they are there."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from microcalc.defaults import real_patches_dir
from microcalc.imaging.patch_sets import LabelRule, PatchSet, load_patch_set

REAL_PATCHES = real_patches_dir()


def synthetic_patches(n: int, size: int, *, seed: int = 0) -> PatchSet:
    """Labelled parity patches when no folder is given: ``n`` patches cut from mc-synth's tissue
    phantoms (half with a cluster, the others with isolated specks and vessels at most), through
    the scanner's 8-bit conversion, plus one all-zero tile (the scaling guard; labelled normal)."""
    from microcalc.synth.patches import phantom_patches

    kinds = ["cluster", "normal"] * (n // 2)
    seeds = np.random.SeedSequence(seed).spawn((len(kinds) + 3) // 4)
    cut = [
        patch
        for k, seq in enumerate(seeds)
        for patch, _ in phantom_patches(kinds[4 * k : 4 * k + 4], patch_size=size, seed_seq=seq)
    ]
    tiles = np.stack([*cut, np.zeros((size, size), np.uint8)])[:, None]
    labels = np.array([int(kind == "cluster") for kind in kinds] + [0])
    return PatchSet(
        tiles, labels, [Path(f"synthetic-{kind}-{i}") for i, kind in enumerate([*kinds, "empty"])]
    )


def parity_set(calib: PatchSet | None, config: Any, *, seed: int) -> PatchSet:
    """The calibration set, or synthetic patches plus ``../shared/data/real_patches`` when present."""
    if calib is not None:
        return calib
    patches = synthetic_patches(16, config.patch_size, seed=seed)
    if REAL_PATCHES.is_dir():
        patches = patches.concat(
            load_patch_set(
                REAL_PATCHES, size=config.patch_size, rule=label_rule(config), skip_other_sizes=True
            )
        )
    return patches


def label_rule(config: Any) -> LabelRule:
    """The model's one labelling rule (:mod:`microcalc.imaging.patch_sets`), as training used it."""
    return LabelRule.for_model(config.classes, config.positive_class)
