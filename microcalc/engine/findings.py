"""From tile scores to findings: groups of adjacent suspicious tiles, located by their CAM.

Tiles whose cluster probability reaches the threshold are labelled on the tile grid
(``scipy.ndimage.label``, 8-connectivity: diagonal neighbours overlap too); each group is one
finding. Its ``frame`` is the rectangle its tiles cover. Inside the frame the class activation
maps of its tiles, upsampled into image coordinates and merged by maximum, locate the cluster:
the ``bbox`` is the region where the min-max-normalised CAM reaches ``cam_fraction`` of its peak.
Coordinates are ``x`` = column, ``y`` = row in the original pixel grid, boxes end-exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage
from skimage.transform import resize

from microcalc.engine.tiler import TileGrid

CONNECTIVITY_8 = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class Box:
    """An end-exclusive pixel rectangle."""

    x0: int
    y0: int
    x1: int
    y1: int

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.x0 + self.x1) / 2.0, (self.y0 + self.y1) / 2.0)

    def contains(self, x: float, y: float) -> bool:
        return self.x0 <= x < self.x1 and self.y0 <= y < self.y1

    def to_dict(self) -> dict[str, int]:
        return {"x0": self.x0, "y0": self.y0, "x1": self.x1, "y1": self.y1}


@dataclass(frozen=True)
class Finding:
    """One suspicious cluster: where its tiles are, where the CAM puts it, how sure the model is."""

    frame: Box
    bbox: Box
    score: float
    tiles: int

    def to_dict(self, *, spacing_mm: tuple[float, float] | None) -> dict[str, Any]:
        cx, cy = self.bbox.centre
        out: dict[str, Any] = {
            "frame_px": self.frame.to_dict(),
            "bbox_px": self.bbox.to_dict(),
            "centre_px": {"x": cx, "y": cy},
            "score": self.score,
            "tiles": self.tiles,
            "bbox_mm": None,
            "centre_mm": None,
        }
        if spacing_mm is not None:
            row_mm, col_mm = spacing_mm
            b = self.bbox
            out["bbox_mm"] = {
                "x0": b.x0 * col_mm,
                "y0": b.y0 * row_mm,
                "x1": b.x1 * col_mm,
                "y1": b.y1 * row_mm,
            }
            out["centre_mm"] = {"x": cx * col_mm, "y": cy * row_mm}
        return out


def score_grid(grid: TileGrid, scores: np.ndarray) -> np.ndarray:
    """Scores on the tile grid ``[grid rows, grid cols]``; NaN where a tile was not scanned."""
    heat = np.full(grid.grid_shape, np.nan, dtype=np.float32)
    heat[grid.ii, grid.jj] = scores
    return heat


def _locate(grid: TileGrid, members: np.ndarray, cams: np.ndarray, frame: Box, cam_fraction: float) -> Box:
    """The CAM box of one finding inside its ``frame`` (see the module docstring)."""
    p = grid.size
    cell = max(1, p // (2 * max(cams.shape[1:])))
    tile_cells = -(-p // cell)
    canvas = np.full(
        (-(-(frame.y1 - frame.y0) // cell) + 1, -(-(frame.x1 - frame.x0) // cell) + 1),
        -np.inf,
        dtype=np.float32,
    )
    for k in members:
        up = resize(
            cams[k].astype(np.float32), (tile_cells, tile_cells), order=1, mode="edge", anti_aliasing=False
        )
        r = (int(grid.ys[k]) - frame.y0) // cell
        c = (int(grid.xs[k]) - frame.x0) // cell
        view = canvas[r : r + tile_cells, c : c + tile_cells]
        np.maximum(view, up[: view.shape[0], : view.shape[1]], out=view)
    valid = np.isfinite(canvas)
    low, peak = float(canvas[valid].min()), float(canvas[valid].max())
    if peak <= low:
        return frame
    hot = valid & ((canvas - low) >= cam_fraction * (peak - low))
    rows = np.flatnonzero(hot.any(axis=1))
    cols = np.flatnonzero(hot.any(axis=0))
    return Box(
        x0=frame.x0 + int(cols[0]) * cell,
        y0=frame.y0 + int(rows[0]) * cell,
        x1=min(frame.x1, frame.x0 + int(cols[-1] + 1) * cell),
        y1=min(frame.y1, frame.y0 + int(rows[-1] + 1) * cell),
    )


def find_clusters(
    grid: TileGrid, scores: np.ndarray, cams: np.ndarray, *, threshold: float, cam_fraction: float = 0.5
) -> list[Finding]:
    """Findings of one image, highest score first.

    Args:
        grid: the scanned tiles.
        scores: float32 ``[n]`` cluster probability per tile, in grid order.
        cams: float32 ``[n, h, w]`` cluster-class activation map per tile.
        threshold: a tile is suspicious when its score is at least this.
        cam_fraction: share of the CAM's peak (above its minimum) that the box encloses.
    """
    if scores.shape[0] != len(grid) or cams.shape[0] != len(grid):
        raise ValueError(f"got {scores.shape[0]} scores and {cams.shape[0]} CAMs for {len(grid)} tiles")
    if len(grid) == 0:
        return []
    hot = np.zeros(grid.grid_shape, dtype=bool)
    hot[grid.ii, grid.jj] = scores >= threshold
    labels, count = ndimage.label(hot, structure=CONNECTIVITY_8)
    tile_labels = labels[grid.ii, grid.jj]
    findings = []
    for label in range(1, count + 1):
        members = np.flatnonzero(tile_labels == label)
        frame = Box(
            x0=int(grid.xs[members].min()),
            y0=int(grid.ys[members].min()),
            x1=int(grid.xs[members].max()) + grid.size,
            y1=int(grid.ys[members].max()) + grid.size,
        )
        findings.append(
            Finding(
                frame=frame,
                bbox=_locate(grid, members, cams, frame, cam_fraction),
                score=float(scores[members].max()),
                tiles=int(members.size),
            )
        )
    return sorted(findings, key=lambda f: -f.score)
