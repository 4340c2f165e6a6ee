"""Findings from tile scores: grouping on the tile grid, CAM boxes, coordinates in px and mm."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.engine.findings import Box, find_clusters, score_grid
from microcalc.engine.tiler import TileGrid

P = 64


def grid_of(rows: int, cols: int, stride: int = 32) -> TileGrid:
    """A full grid of rows x cols tiles at the given stride."""
    ii, jj = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    ii, jj = ii.ravel(), jj.ravel()
    starts_r, starts_c = np.arange(rows) * stride, np.arange(cols) * stride
    return TileGrid(P, starts_r[ii], starts_c[jj], ii, jj, (rows, cols), rows * cols, starts_r, starts_c)


def flat_cams(n: int) -> np.ndarray:
    return np.zeros((n, 8, 8), np.float32)


@pytest.mark.parametrize(
    "hot, expected_groups",
    [
        ([], 0),  # nothing above threshold
        ([(0, 0)], 1),  # one tile
        ([(0, 0), (0, 1)], 1),  # horizontal neighbours merge
        ([(0, 0), (1, 1)], 1),  # diagonal neighbours overlap, so they merge too
        ([(0, 0), (0, 2)], 2),  # a gap of one tile: two findings
        ([(0, 0), (3, 3), (3, 2)], 2),  # two groups of different sizes
    ],
)
def test_groups_of_adjacent_tiles(hot, expected_groups):
    grid = grid_of(4, 4)
    scores = np.full(len(grid), 0.1, np.float32)
    for i, j in hot:
        scores[i * 4 + j] = 0.9
    findings = find_clusters(grid, scores, flat_cams(len(grid)), threshold=0.5)
    assert len(findings) == expected_groups
    assert sum(f.tiles for f in findings) == len(hot)


def test_frame_score_and_order():
    grid = grid_of(4, 4)
    scores = np.zeros(len(grid), np.float32)
    scores[[0, 1]] = [0.7, 0.6]  # tiles (0,0), (0,1)
    scores[15] = 0.95  # tile (3,3)
    findings = find_clusters(grid, scores, flat_cams(len(grid)), threshold=0.5)
    assert [f.score for f in findings] == pytest.approx([0.95, 0.7])
    assert findings[0].frame == Box(96, 96, 96 + P, 96 + P)
    assert findings[1].frame == Box(0, 0, 32 + P, P)
    assert findings[1].tiles == 2


def test_cam_locates_cluster_inside_frame():
    grid = grid_of(2, 2)
    scores = np.array([0.9, 0.9, 0.1, 0.1], np.float32)
    cams = flat_cams(4)
    cams[1, 2, 3] = 5.0  # tile (0,1) starts at x=32; CAM cell (row 2, col 3) = pixels y 16..24, x 56..64
    (finding,) = find_clusters(grid, scores, cams, threshold=0.5, cam_fraction=0.5)
    assert finding.frame == Box(0, 0, 96, 64)
    b = finding.bbox
    assert finding.frame.contains(*b.centre)
    assert 50 <= b.x0 and b.x1 <= 72 and 10 <= b.y0 and b.y1 <= 30
    assert b.contains(60, 20)


def test_coordinates_in_mm():
    grid = grid_of(1, 1)
    (finding,) = find_clusters(grid, np.array([0.8], np.float32), flat_cams(1), threshold=0.5)
    d = finding.to_dict(spacing_mm=(0.1, 0.05))
    assert d["bbox_px"] == {"x0": 0, "y0": 0, "x1": 64, "y1": 64}
    assert d["centre_mm"] == pytest.approx({"x": 1.6, "y": 3.2})
    assert finding.to_dict(spacing_mm=None)["bbox_mm"] is None


def test_score_grid_marks_skipped_tiles_nan():
    full = grid_of(2, 2)
    keep = np.array([True, False, True, True])
    grid = TileGrid(
        P,
        full.ys[keep],
        full.xs[keep],
        full.ii[keep],
        full.jj[keep],
        (2, 2),
        4,
        full.row_starts,
        full.col_starts,
    )
    heat = score_grid(grid, np.array([0.1, 0.2, 0.3], np.float32))
    assert np.isnan(heat[0, 1]) and heat[1, 1] == pytest.approx(0.3)


def test_mismatched_lengths_refused():
    with pytest.raises(ValueError, match="scores"):
        find_clusters(grid_of(2, 2), np.zeros(3, np.float32), flat_cams(4), threshold=0.5)
