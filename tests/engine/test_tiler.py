"""Breast mask, tile grid and the copy of tiles into batch buffers."""

from __future__ import annotations

import numpy as np
import pytest
from engine_fakes import phantom

from microcalc.engine.mask import breast_mask
from microcalc.engine.tiler import axis_starts, batch_sizes, fill_batch, plan_tiles


@pytest.mark.parametrize(
    "lo, hi, length, size, stride, expected",
    [
        (0, 1000, 1000, 400, 300, [0, 300, 600]),  # last start shifted inward to 600 (not 900)
        (0, 1000, 1000, 400, 400, [0, 400, 600]),  # no overlap: last tile overlaps its neighbour
        (100, 300, 1000, 400, 300, [100]),  # breast narrower than a tile: one tile
        (800, 1000, 1000, 400, 300, [600]),  # narrow breast at the far edge: moved inside
        (0, 400, 400, 400, 100, [0]),  # image exactly one tile
        (0, 700, 700, 128, 96, [0, 96, 192, 288, 384, 480, 572]),  # 25 % overlap at P=128
    ],
)
def test_axis_starts(lo, hi, length, size, stride, expected):
    assert axis_starts(lo, hi, length=length, size=size, stride=stride).tolist() == expected


def test_axis_starts_refuses_tile_larger_than_axis():
    with pytest.raises(ValueError, match="does not fit"):
        axis_starts(0, 10, length=10, size=11, stride=5)


def test_mask_finds_breast_and_its_bbox():
    img = phantom(600, 500)
    mask = breast_mask(img, factor=8)
    y0, x0, y1, x1 = mask.bbox()
    # the half-ellipse spans rows 30..570 and columns 0..400
    assert x0 == 0 and 380 <= x1 <= 416
    assert 16 <= y0 <= 40 and 560 <= y1 <= 584
    assert mask.fractions(np.array([200]), np.array([0]), 64)[0] == 1.0  # inside the breast
    assert mask.fractions(np.array([0]), np.array([436]), 64)[0] == 0.0  # air in the corner


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((256, 256), np.uint8),  # all black: no breast
        np.full((256, 256), 200, np.uint8),  # flat grey: no contrast, no breast
    ],
)
def test_mask_of_flat_image_is_empty(pixels):
    mask = breast_mask(pixels)
    assert mask.empty
    grid = plan_tiles(mask, size=64, overlap=0.25, min_breast=0.1)
    assert len(grid) == 0 and grid.total == 0


def test_mask_keeps_largest_component_only():
    img = phantom(600, 500, spots=())
    img[10:40, 450:490] = 250  # a bright label in the corner, not connected to the breast
    mask = breast_mask(img, factor=4)
    assert not mask.mask[10 // 4 : 40 // 4, 450 // 4 : 490 // 4].any()


@pytest.mark.parametrize(
    "overlap, min_breast",
    [
        (0.0, 0.0),  # every grid position over the bbox is scanned
        (0.25, 0.1),  # default-like: corners over air skipped
        (0.5, 0.5),  # dense grid, only tiles mostly on tissue
    ],
)
def test_grid_covers_breast_inside_image(overlap, min_breast):
    img = phantom(600, 500)
    mask = breast_mask(img)
    grid = plan_tiles(mask, size=64, overlap=overlap, min_breast=min_breast)
    assert len(grid) > 0
    assert (grid.ys >= 0).all() and (grid.ys + 64 <= 600).all()
    assert (grid.xs >= 0).all() and (grid.xs + 64 <= 500).all()
    assert np.diff(grid.row_starts).max() <= round(64 * (1 - overlap))
    assert grid.total == grid.grid_shape[0] * grid.grid_shape[1] >= len(grid)
    if min_breast > 0:
        assert (mask.fractions(grid.ys, grid.xs, 64) >= min_breast).all()
        assert len(grid) < grid.total
    # every tissue pixel is covered by some tile when nothing is skipped
    if min_breast == 0:
        covered = np.zeros(img.shape, bool)
        for y, x in zip(grid.ys, grid.xs):
            covered[y : y + 64, x : x + 64] = True
        y0, x0, y1, x1 = mask.bbox()
        assert covered[y0:y1, x0:x1].all()


def test_fill_batch_copies_exact_regions_into_contiguous_buffer():
    img = phantom(600, 500)
    grid = plan_tiles(breast_mask(img), size=64, overlap=0.25, min_breast=0.1)
    buf = np.empty((5, 1, 64, 64), np.uint8)
    address = buf.ctypes.data
    first = 0
    while first < len(grid):
        n = fill_batch(img, grid, first, buf)
        assert buf.flags.c_contiguous and buf.ctypes.data == address  # same memory, filled in place
        for k in range(n):
            y, x = grid.ys[first + k], grid.xs[first + k]
            np.testing.assert_array_equal(buf[k, 0], img[y : y + 64, x : x + 64])
        first += n
    assert first == len(grid)


def test_mask_keeps_fatty_tissue_next_to_dense_tissue():
    # fat (grey 25) fills the breast, a large dense region (grey 200) its upper half: plain Otsu
    # on linear values would split fat from dense tissue and keep only the dense half
    img = phantom(600, 500, spots=())
    img[img >= 60] = 25
    img[:300][img[:300] >= 25] = 200
    mask = breast_mask(img, factor=8)
    y0, _, y1, _ = mask.bbox()
    assert y0 <= 40 and y1 >= 560  # both halves
    assert mask.fractions(np.array([400]), np.array([50]), 64)[0] == 1.0  # fat is tissue


@pytest.mark.parametrize(
    "shape,factor",
    [
        ((64, 48), 8),  # divisible
        ((67, 45), 8),  # ragged edges padded with zeros, as block_reduce's cval=0
        ((40, 40), 16),  # the largest block uint16 sums hold
        ((30, 20), 3),  # odd factor
    ],
)
def test_block_mean_equals_block_reduce(shape, factor):
    from skimage.measure import block_reduce

    from microcalc.engine.mask import block_mean

    pixels = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    np.testing.assert_allclose(
        block_mean(pixels, factor),
        block_reduce(pixels, block_size=(factor, factor), func=np.mean, cval=0),
        rtol=1e-12,
    )


@pytest.mark.parametrize(
    ("tiles", "batch", "lanes", "sizes"),
    [
        (9, 8, 2, [5, 4]),  # one batch per lane, not 8 + 1
        (33, 8, 2, [8, 8, 8, 5, 4]),
        (16, 8, 2, [8, 8]),
        (20, 8, 2, [8, 6, 6]),
        (1, 8, 2, [1]),
        (0, 8, 2, []),
        (9, 8, 1, [8, 1]),  # one lane: full batches as before
        (7, 4, 3, [3, 2, 2]),
    ],
)
def test_an_images_last_tiles_are_shared_out_over_the_lanes(tiles, batch, lanes, sizes):
    assert batch_sizes(tiles, batch=batch, lanes=lanes) == sizes
