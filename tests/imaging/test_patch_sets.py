"""Labelled patch sets: one rule and one container for mc-export, mc-bench and mc-train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from microcalc.errors import InputError
from microcalc.imaging.patch_sets import LabelRule, list_labelled, load_patch_set
from microcalc.model_config import ModelConfig

CONFIG = ModelConfig(arch="smallcnn", classes=("cluster", "no_cluster"), positive_index=0, patch_size=32)


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


@pytest.mark.parametrize(
    "name, label",
    [
        ("cluster", 1),
        ("Calc", 1),
        ("calc_01", 1),
        ("calcifications", 1),  # positive; case, number ignored
        ("normal", 0),
        ("no_cluster", 0),
        ("mass-2", 0),  # negative names
        ("1", 1),
        ("0", 0),  # a model trained on 1/, 0/
        ("patch7", -1),
        ("calcium", -1),
        ("cluster_map", -1),  # names that say nothing
    ],
)
def test_one_rule(name, label):
    assert LabelRule.for_model(("1", "0"), "1").label(name) == label


@pytest.mark.parametrize(
    "which, expected",
    [
        (0, [1, 1, 1, 0, 0, 0]),  # class folders: cluster -> 1, normal -> 0 (sorted)
        (1, [1, 0]),  # loose files: calc -> 1, mass -> 0; README ignored
    ],
)
def test_labels_of_each_layout(folders, which, expected):
    assert [label for _, label in list_labelled(folders[which])] == expected


def test_limit_keeps_both_classes_and_resize_keeps_values(folders):
    synth, real = folders
    s = load_patch_set(synth, size=32, limit=2).concat(load_patch_set(real, size=32, fit="resize"))
    assert s.tiles.shape == (4, 1, 32, 32) and s.tiles.dtype == np.uint8
    assert s.labels.tolist() == [1, 0, 1, 0] and s.labelled
    assert s.tiles[2].max() == 220  # the 64 px calc patch resized, values kept


def test_other_sizes_are_refused_or_skipped(folders):
    _, real = folders
    with pytest.raises(InputError, match="calc.png: patch is 64x64, the model takes 32x32"):
        load_patch_set(real, size=32)
    assert len(load_patch_set(real, size=32, skip_other_sizes=True)) == 0


def test_empty_or_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such patch folder"):
        list_labelled(tmp_path / "absent")
    with pytest.raises(InputError, match="no patches found"):
        list_labelled(tmp_path)


def test_calc_01_at_the_root_has_one_label_for_export_bench_and_training(tmp_path):
    """It was unlabelled for mc-export, a cluster for mc-bench and ignored by mc-train."""
    from microcalc.bench.runner import BenchSettings, _parity_set
    from microcalc.export.parity_patches import label_rule
    from microcalc.trainer.data import discover

    for i in range(2):
        _png(tmp_path / "cluster" / f"c{i}.png", 200)
        _png(tmp_path / "no_cluster" / f"n{i}.png", 50)
    _png(tmp_path / "calc_01.png", 220)
    loose = tmp_path / "calc_01.png"

    export_set = load_patch_set(tmp_path, size=32, rule=label_rule(CONFIG))
    bench_set = _parity_set(BenchSettings(bundle=tmp_path, patches=(tmp_path,)), CONFIG)
    train_set = discover(tmp_path, positive_class="cluster")
    assert export_set.labels[export_set.paths.index(loose)] == 1
    assert bench_set.labels[bench_set.paths.index(loose)] == 1
    [sample] = [s for s in train_set.samples if s.path == loose]
    assert train_set.classes[sample.label] == "cluster"


def test_training_refuses_a_root_patch_whose_name_says_nothing(tmp_path):
    from microcalc.trainer.data import discover

    _png(tmp_path / "cluster" / "c.png", 200)
    _png(tmp_path / "normal" / "n.png", 50)
    _png(tmp_path / "preview.png", 0)
    with pytest.raises(InputError, match="preview.png: its name does not say its class"):
        discover(tmp_path, positive_class="cluster")
