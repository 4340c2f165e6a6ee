"""Resampling a mammogram to another pixel spacing: area averaging down, cubic spline up.

Shrinking an image must average: every output pixel is the mean of the input area it covers,
weighted by the fraction of each input pixel inside it (the "local mean" of
``skimage.transform.resize_local_mean``), so a speck keeps its integrated contrast and noise is
averaged rather than aliased. Enlarging must not invent edges: a cubic B-spline
(``scipy.ndimage.zoom``, order 3, grid mode) is smooth and passes through the input values.

Both are separable: axes that shrink are averaged one by one, then every axis that grows is
interpolated in one spline call (an axis already at its size keeps its values: the spline
passes through them). Rows and columns may have different factors (anisotropic spacing), and
one axis may shrink while the other grows. The grid model is
that of ``grid_mode=True`` in scipy and scikit-image: pixel ``i`` of ``n`` covers ``[i, i+1)``
and the image ``[0, n)``, so a point at ``x`` in the input is at ``x * new / old`` in the output.

Why the area weights are built here instead of calling ``resize_local_mean``: scikit-image
applies them as dense ``[new, old]`` matrices, O(rows x cols x new) per axis: 981 ms for a
2867x2330 image to 2048x1664 on the 2-core development machine, growing with the cube of the
side. The same weights as a ``scipy.sparse`` matrix (at most ``ceil(old/new) + 1``
non-zeros a row) take 30 ms; ``tests/imaging/test_resample.py`` checks they equal scikit-image's.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse


def area_weights(old: int, new: int) -> sparse.csr_matrix:
    """``[new, old]`` float32 sparse matrix: row ``i`` averages the input over ``[i*s, (i+1)*s)``,
    ``s = old/new``.

    Each weight is the overlap of an input pixel with the output pixel divided by ``s``; rows sum to 1.
    """
    if not 0 < new <= old:
        raise ValueError(f"area averaging shrinks an axis: got {old} -> {new} pixels")
    step = old / new
    lo = np.arange(new, dtype=np.float64) * step
    hi = lo + step
    first = np.floor(lo).astype(np.int64)
    width = int((np.minimum(np.ceil(hi), old).astype(np.int64) - first).max())
    cols = first[:, None] + np.arange(width)[None, :]
    overlap = np.minimum(hi[:, None], cols + 1) - np.maximum(lo[:, None], cols)
    keep = (cols < old) & (overlap > 0)
    rows = np.broadcast_to(np.arange(new)[:, None], cols.shape)
    return sparse.csr_matrix(
        ((overlap[keep] / step).astype(np.float32), (rows[keep], cols[keep])), shape=(new, old)
    )


def _area(image: np.ndarray, axis: int, new: int) -> np.ndarray:
    weights = area_weights(image.shape[axis], new)
    if axis == 0:
        return np.asarray(weights @ image, dtype=np.float32)
    return np.ascontiguousarray(np.asarray(weights @ image.T, dtype=np.float32).T)


def resample_float(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Any 2-D array resampled to ``shape`` as float32 (area averaging down, cubic spline up, per axis).

    The float form serves detector simulation (``mc-synth vendors`` samples one fine rendering of
    a breast with each detector's pixel size); the scanner uses :func:`resample_to_shape`.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"target shape must be two positive sizes, got {shape}")
    out = image.astype(np.float32)
    for axis, new in enumerate(shape):
        if new < out.shape[axis]:
            out = _area(out, axis, new)
    if out.shape != tuple(shape):  # one spline call for every growing axis: half the cost of one per axis
        zoom = [new / old for new, old in zip(shape, out.shape)]
        out = ndimage.zoom(out, zoom, order=3, mode="grid-mirror", grid_mode=True, output=np.float32)
    return out


def resample_to_shape(pixels: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``pixels`` (uint8 ``[rows, cols]``) resampled to ``shape``: a new C-contiguous uint8 array.

    Each axis that shrinks is area-averaged, each axis that grows is cubic-spline interpolated
    (see the module docstring); values are rounded and clipped to 0..255. Returns ``pixels``
    itself when ``shape`` is its own shape.
    """
    if tuple(shape) == pixels.shape:
        return pixels
    return np.ascontiguousarray(np.clip(np.rint(resample_float(pixels, shape)), 0, 255).astype(np.uint8))
