"""Training augmentations: geometric ones never change a grey level; --noise-augment draws a noise
level per patch from a range (benchmarks/FROC_RECIPE.md: it keeps the patch operating point on noisier
detectors)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np

from microcalc.trainer.dataset import Augment
from microcalc.trainer.fit import TrainOptions, _augment
from tests.conftest import run_cli
from tests.trainer.test_trainer_roundtrip import SMALL, TRAIN


def test_geometric_keeps_grey_levels():
    img = np.random.default_rng(0).integers(0, 256, size=(16, 16), dtype=np.uint8)
    for seed in range(8):
        out = Augment.geometric()(img, np.random.default_rng(seed))
        assert out.dtype == np.uint8 and np.array_equal(np.sort(out, axis=None), np.sort(img, axis=None))


def test_noise_level_drawn_per_patch_within_the_range():
    flat = np.full((96, 96), 128, dtype=np.uint8)
    augment = replace(Augment.geometric(), noise_max=8.0)
    stds = np.array([augment(flat, np.random.default_rng(seed)).std() for seed in range(40)])
    assert stds.max() < 8.0 * 1.1  # never above the range (sampling error of 9216 pixels: ~1%)
    assert stds.min() < 2.0 and stds.max() > 6.0  # clean-ish and noisy patches both occur
    assert np.array_equal(augment(flat, np.random.default_rng(3)), augment(flat, np.random.default_rng(3)))
    assert np.array_equal(Augment.geometric()(flat, np.random.default_rng(3)), flat)  # off by default


def test_options_choose_the_augmentation():
    assert _augment(TrainOptions()) == Augment.geometric()
    assert _augment(TrainOptions(noise_augment=6.0)) == replace(Augment.geometric(), noise_max=6.0)
    assert _augment(TrainOptions(augment=False, noise_augment=6.0)) == Augment.off()
    photometric = _augment(TrainOptions(photometric=True, noise_augment=2.0))
    assert photometric.gamma > 0 and photometric.noise_max == 2.0


def test_noise_augment_recorded_in_the_run(tiny_patches, tmp_path):
    out = tmp_path / "run"
    run_cli(TRAIN, [str(tiny_patches), "--out", str(out), "--epochs", "1", "--noise-augment", "6", *SMALL])
    assert json.loads((out / "metrics.json").read_text())["options"]["noise_augment"] == 6.0
