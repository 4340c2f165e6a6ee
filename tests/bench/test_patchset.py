"""Labelled patch folders: layouts, labels, resizing and the class-balanced limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from microcalc.bench.patchset import list_labelled, load_patch_sets
from microcalc.errors import InputError


def _png(path: Path, value: int, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)


@pytest.fixture
def folders(tmp_path: Path) -> tuple[Path, Path]:
    synth = tmp_path / "synth"  # mc-synth layout: class folders
    for i in range(3):
        _png(synth / "cluster" / f"c{i}.png", 200)
        _png(synth / "normal" / f"n{i}.png", 50)
    real = tmp_path / "real"  # ../shared/data/real_patches layout: calc.png and mass.png, larger
    _png(real / "calc.png", 220, size=64)
    _png(real / "mass.png", 30, size=64)
    (real / "README.md").write_text("not an image")
    return synth, real


@pytest.mark.parametrize("which, expected", [
    (0, [1, 1, 1, 0, 0, 0]),  # class folders: cluster -> 1, normal -> 0 (sorted)
    (1, [1, 0]),              # loose files: calc -> 1, mass -> 0; README ignored
])
def test_labels_of_each_layout(folders, which, expected):
    assert [label for _, label in list_labelled(folders[which])] == expected


def test_load_resizes_and_limits(folders):
    synth, real = folders
    s = load_patch_sets([synth, real], patch_size=32, limit=2)
    assert s.tiles.shape == (4, 1, 32, 32) and s.tiles.dtype == np.uint8
    assert s.labels.tolist() == [1, 0, 1, 0]  # limit keeps both classes of each folder
    assert s.tiles[2].max() == 220            # the 64 px calc patch resized, values kept


def test_empty_or_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such patch folder"):
        list_labelled(tmp_path / "absent")
    with pytest.raises(InputError, match="no patches found"):
        list_labelled(tmp_path)
