"""Resampling to another spacing: area averaging down (scikit-image's local mean), cubic spline up."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import block_reduce
from skimage.transform import resize_local_mean

from microcalc.imaging.resample import area_weights, resample_to_shape


@pytest.mark.parametrize(
    "old, new",
    [
        (2867, 2048),  # 0.05 mm -> 0.07 mm
        (2409, 2048),  # 0.085 mm -> 0.1 mm
        (10, 3),  # a large non-integer factor
        (9, 9 - 1),  # a tiny one
    ],
)
def test_area_weights_equal_scikit_image_local_mean(old, new):
    rng = np.random.default_rng(0)
    image = rng.random((old, 7)).astype(np.float32) * 255
    ours = area_weights(old, new) @ image
    reference = resize_local_mean(image, (new, 7), grid_mode=True, preserve_range=True)
    np.testing.assert_allclose(ours, reference, atol=2e-3)
    np.testing.assert_allclose(np.asarray(area_weights(old, new).sum(axis=1)).ravel(), 1.0, atol=1e-6)


def test_integer_factor_is_the_block_mean():
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (64, 48), dtype=np.uint8)
    expected = np.rint(block_reduce(image.astype(np.float64), (2, 2), np.mean)).astype(np.uint8)
    np.testing.assert_array_equal(resample_to_shape(image, (32, 24)), expected)


def test_upsampling_is_the_cubic_spline():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (50, 40), dtype=np.uint8)
    out = resample_to_shape(image, (70, 56))
    reference = ndimage.zoom(
        image.astype(np.float64), (70 / 50, 56 / 40), order=3, mode="grid-mirror", grid_mode=True
    )
    np.testing.assert_allclose(out, np.clip(np.rint(reference), 0, 255), atol=1)


@pytest.mark.parametrize("shape", [(71, 57), (30, 24), (71, 24), (30, 57)])  # up, down, and mixed per axis
def test_constant_stays_constant_and_types_hold(shape):
    out = resample_to_shape(np.full((50, 40), 137, np.uint8), shape)
    assert out.shape == shape and out.dtype == np.uint8 and out.flags.c_contiguous
    assert (out == 137).all()


def test_area_averaging_keeps_a_specks_integrated_contrast():
    image = np.full((140, 140), 40, np.uint8)
    image[68:72, 68:72] = 240  # a 4x4 speck at 0.05 mm
    out = resample_to_shape(image, (100, 100)).astype(np.float64)  # -> 0.07 mm
    excess_in, excess_out = (image.astype(np.float64) - 40).sum(), (out - 40).sum()
    assert excess_out * (140 / 100) ** 2 == pytest.approx(excess_in, rel=0.02)


def test_same_shape_is_the_same_array_and_bad_shapes_raise():
    image = np.zeros((20, 30), np.uint8)
    assert resample_to_shape(image, (20, 30)) is image
    with pytest.raises(ValueError, match="two positive sizes"):
        resample_to_shape(image, (0, 30))
    with pytest.raises(ValueError, match="shrinks an axis"):
        area_weights(10, 11)
