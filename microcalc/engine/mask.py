"""Breast mask: which part of the mammogram is tissue, so that tiles over air are never scanned.

Otsu's threshold on the logarithm of a block-averaged copy (scikit-image) separates tissue
from the dark background; the largest connected component with its holes filled is the
breast. The logarithm matters: on a linear scale fatty tissue sits close to air and far from
dense tissue, so plain Otsu often splits fat from dense tissue and loses half the breast. Labels, the
pectoral muscle and the breast itself are all brighter than air, so the largest bright component
is the breast in practice. Working on a copy downsampled ``factor`` times keeps this to a few
milliseconds on a 4096x3328 image. Tissue fractions per tile come from a summed-area table of
the low-resolution mask, so asking for thousands of tiles costs a few array operations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu
from skimage.measure import block_reduce


@dataclass(frozen=True)
class BreastMask:
    """A boolean tissue mask at ``1/factor`` of the image resolution.

    Attributes:
        mask: bool ``[ceil(rows/factor), ceil(cols/factor)]``, True on the breast.
        factor: downsampling factor from the original pixel grid to ``mask``.
        shape: ``(rows, cols)`` of the original image.
    """

    mask: np.ndarray
    factor: int
    shape: tuple[int, int]

    @property
    def empty(self) -> bool:
        return not bool(self.mask.any())

    def bbox(self) -> tuple[int, int, int, int]:
        """``(y0, x0, y1, x1)`` of the breast in original pixels (end exclusive, clipped to the image)."""
        if self.empty:
            return (0, 0, 0, 0)
        rows = np.flatnonzero(self.mask.any(axis=1))
        cols = np.flatnonzero(self.mask.any(axis=0))
        f = self.factor
        return (
            int(rows[0]) * f,
            int(cols[0]) * f,
            min(int(rows[-1] + 1) * f, self.shape[0]),
            min(int(cols[-1] + 1) * f, self.shape[1]),
        )

    def fractions(self, ys: np.ndarray, xs: np.ndarray, size: int) -> np.ndarray:
        """Tissue fraction of each ``size``-pixel square tile with top-left corners ``(ys[i], xs[i])``."""
        f = self.factor
        table = np.zeros((self.mask.shape[0] + 1, self.mask.shape[1] + 1), dtype=np.int64)
        table[1:, 1:] = self.mask.cumsum(axis=0).cumsum(axis=1)
        y0 = np.asarray(ys) // f
        x0 = np.asarray(xs) // f
        y1 = np.minimum(-(-(np.asarray(ys) + size) // f), self.mask.shape[0])
        x1 = np.minimum(-(-(np.asarray(xs) + size) // f), self.mask.shape[1])
        inside = table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
        area = np.maximum((y1 - y0) * (x1 - x0), 1)
        return inside / area


def block_mean(pixels: np.ndarray, factor: int) -> np.ndarray:
    """Mean of each ``factor`` x ``factor`` block of a uint8 image, edge blocks padded with zeros.

    The same values as ``skimage.measure.block_reduce(pixels, (f, f), np.mean, cval=0)``, summed in
    uint16 one axis at a time: ~5 ms instead of ~33 ms on a 4096x3328 mammogram, where the mask
    sits before the first tile of every scan.
    """
    if pixels.dtype != np.uint8 or factor > 16:  # uint16 sums hold 16x16 blocks of 255 at most
        return block_reduce(pixels, block_size=(factor, factor), func=np.mean, cval=0)
    rows, cols = -(-pixels.shape[0] // factor) * factor, -(-pixels.shape[1] // factor) * factor
    if (rows, cols) != pixels.shape:
        pixels = np.pad(pixels, ((0, rows - pixels.shape[0]), (0, cols - pixels.shape[1])))
    sums = pixels.reshape(rows // factor, factor, cols).sum(axis=1, dtype=np.uint16)
    sums = sums.reshape(rows // factor, cols // factor, factor).sum(axis=2, dtype=np.uint16)
    return sums / float(factor * factor)


def breast_mask(pixels: np.ndarray, *, factor: int = 8) -> BreastMask:
    """Tissue mask of a uint8 mammogram ``[rows, cols]`` (see the module docstring).

    An image with a single grey level (no contrast) has no breast: the mask is empty and the
    scan reports zero tiles instead of guessing.
    """
    if pixels.ndim != 2:
        raise ValueError(f"pixels must be 2-D [rows, cols], got shape {pixels.shape}")
    if factor < 1:
        raise ValueError(f"factor must be at least 1, got {factor}")
    small = block_mean(pixels, factor)
    shape = (int(pixels.shape[0]), int(pixels.shape[1]))
    if small.min() == small.max():
        return BreastMask(np.zeros(small.shape, dtype=bool), factor, shape)
    logged = np.log1p(small)
    tissue = logged > threshold_otsu(logged)
    labels, count = ndimage.label(tissue)
    if count == 0:
        return BreastMask(tissue, factor, shape)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    largest = labels == int(sizes.argmax())
    return BreastMask(ndimage.binary_fill_holes(largest), factor, shape)
