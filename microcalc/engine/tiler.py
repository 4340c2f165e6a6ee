"""The tile grid over the breast, and the one copy of each tile into a batch buffer.

Tiles are model-sized squares laid over the breast's bounding box at stride
``P * (1 - overlap)``; the last row and column are shifted inward so that every tile lies inside
the image (no padding, no invented pixels). Tiles covering less than ``min_breast`` tissue are
skipped. A tile keeps its grid index ``(i, j)`` so that neighbouring tiles are neighbours in the
score grid that findings are built from.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from microcalc.engine.mask import BreastMask


def axis_starts(lo: int, hi: int, *, length: int, size: int, stride: int) -> np.ndarray:
    """Tile starts covering ``[lo, hi)`` on an axis of ``length`` pixels, last one shifted inward.

    Example: ``axis_starts(0, 1000, length=1000, size=400, stride=300)`` -> ``[0, 300, 600]``.
    """
    if size > length:
        raise ValueError(f"a {size}-pixel tile does not fit in {length} pixels")
    lo = max(0, min(lo, length - size))
    last = max(lo, min(hi, length) - size)
    starts = list(range(lo, last, stride))
    if not starts or starts[-1] != last:
        starts.append(last)
    return np.asarray(starts, dtype=np.int64)


@dataclass(frozen=True)
class TileGrid:
    """Where the scanned tiles are.

    Attributes:
        size: tile side ``P`` in pixels.
        ys, xs: int64 ``[n]``, top-left corner of each scanned tile in the original pixel grid.
        ii, jj: int64 ``[n]``, each tile's row and column in the grid.
        grid_shape: ``(grid rows, grid cols)``, counting skipped tiles.
        total: number of grid positions before skipping those with too little tissue.
        row_starts, col_starts: the grid's start coordinates on each axis.
    """

    size: int
    ys: np.ndarray
    xs: np.ndarray
    ii: np.ndarray
    jj: np.ndarray
    grid_shape: tuple[int, int]
    total: int
    row_starts: np.ndarray
    col_starts: np.ndarray

    def __len__(self) -> int:
        return int(self.ys.shape[0])


def plan_tiles(mask: BreastMask, *, size: int, overlap: float, min_breast: float) -> TileGrid:
    """Lay the grid over the breast and keep tiles with at least ``min_breast`` tissue.

    Args:
        mask: the breast mask of the image.
        size: tile side ``P`` (the model's patch size).
        overlap: fraction of a tile shared with its neighbour, in ``[0, 1)``.
        min_breast: minimum tissue fraction of a scanned tile, in ``[0, 1]``.
    """
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must lie in [0, 1), got {overlap}")
    if not 0.0 <= min_breast <= 1.0:
        raise ValueError(f"min_breast must lie in [0, 1], got {min_breast}")
    rows, cols = mask.shape
    stride = max(1, round(size * (1.0 - overlap)))
    empty = np.zeros(0, dtype=np.int64)
    if mask.empty:
        return TileGrid(size, empty, empty, empty, empty, (0, 0), 0, empty, empty)
    y0, x0, y1, x1 = mask.bbox()
    row_starts = axis_starts(y0, y1, length=rows, size=size, stride=stride)
    col_starts = axis_starts(x0, x1, length=cols, size=size, stride=stride)
    ii, jj = np.meshgrid(np.arange(row_starts.size), np.arange(col_starts.size), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    ys, xs = row_starts[ii], col_starts[jj]
    keep = mask.fractions(ys, xs, size) >= min_breast if min_breast > 0 else np.ones(ys.shape, dtype=bool)
    return TileGrid(
        size,
        ys[keep],
        xs[keep],
        ii[keep],
        jj[keep],
        (row_starts.size, col_starts.size),
        int(ys.size),
        row_starts,
        col_starts,
    )


def batch_sizes(tiles: int, *, batch: int, lanes: int) -> list[int]:
    """How an image's ``tiles`` are cut into batches of at most ``batch``: full batches while more than
    ``lanes`` full ones remain, then the rest split evenly over ``lanes`` batches (fewer if there are
    fewer tiles). ``lanes`` is how many batches the backend runs side by side (the scanner's batches
    in flight: OpenVINO's two ``THROUGHPUT`` streams take one core each). Nine kept tiles as 8 + 1
    left one stream computing eight tiles while the other finished its one; as 5 + 4 both finish
    together (issue 26: a ResNet101 image's inference stage 3.0 s -> 1.9 s on two cores)."""
    sizes = []
    while tiles > lanes * batch:
        sizes.append(batch)
        tiles -= batch
    parts = min(lanes, tiles)
    if parts:
        q, r = divmod(tiles, parts)
        sizes += [q + 1] * r + [q] * (parts - r)
    return sizes


def fill_batch(pixels: np.ndarray, grid: TileGrid, first: int, buffer: np.ndarray) -> int:
    """Copy tiles ``first, first+1, ...`` of ``grid`` straight from ``pixels`` into ``buffer``.

    ``buffer`` is a preallocated ``[B, 1, P, P]`` batch (from the ring); each tile is one slice
    assignment, so no tile is ever allocated on its own. Returns how many tiles were copied
    (``min(B, len(grid) - first)``).
    """
    p = grid.size
    n = min(buffer.shape[0], len(grid) - first)
    for k in range(n):
        y, x = int(grid.ys[first + k]), int(grid.xs[first + k])
        buffer[k, 0] = pixels[y : y + p, x : x + p]
    return n
