"""Synthetic mammograms with ground truth: ``make_mammogram`` -> (stored uint16 pixels, truth).

Stored values are what a DM "For Presentation" image would hold (MONOCHROME2: bright = dense,
``bits_stored`` bits). The truth dict uses the written image's pixel grid:
``center_px = [row, col]``, ``bbox_px = [row0, col0, row1, col1]`` half-open, calcification
centres as ``row``/``col`` and diameters in px and mm.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from microcalc.synth.anatomy import DENSITIES, LATERALITIES, VIEWS, Anatomy, breast_anatomy
from microcalc.synth.calcs import (
    Speck,
    cluster_extent_px,
    cluster_specks,
    cluster_truth,
    draw_specks,
    isolated_speck,
)

DEFAULT_ROWS, DEFAULT_COLS, DEFAULT_SPACING_MM = 4096, 3328, 0.07
MIN_SIDE = 256
MAX_SIDE = 12000
AIR_LEVEL = 0.02  # fraction of full scale where air sits after processing
TISSUE_SCALE = 0.72  # full-scale fraction per attenuation unit


def check_choice(name: str, value: str, allowed: Sequence[str]) -> None:
    """``ValueError`` quoting ``value`` unless it is one of ``allowed``."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")


def check_spacing(spacing_mm: float) -> None:
    """``ValueError`` unless ``spacing_mm`` is a pixel spacing the synthesiser renders (0.02..0.5 mm)."""
    if not 0.02 <= spacing_mm <= 0.5:
        raise ValueError(f"pixel spacing {spacing_mm} mm out of range 0.02..0.5 mm")


def check_geometry(
    *, rows: int, cols: int, spacing_mm: float, view: str, laterality: str, density: str, bits_stored: int
) -> None:
    """Validate phantom parameters in one place, quoting the bad value (``ValueError``)."""
    if not (MIN_SIDE <= rows <= MAX_SIDE and MIN_SIDE <= cols <= MAX_SIDE):
        raise ValueError(
            f"image size {rows}x{cols} out of range: each side must be {MIN_SIDE}..{MAX_SIDE} px"
        )
    check_spacing(spacing_mm)
    check_choice("view", view, VIEWS)
    check_choice("laterality", laterality, LATERALITIES)
    check_choice("density", density, DENSITIES)
    if not 10 <= bits_stored <= 16:
        raise ValueError(f"bits stored {bits_stored} out of range 10..16")


def to_stored(attenuation: np.ndarray, *, bits_stored: int) -> np.ndarray:
    """Attenuation -> MONOCHROME2 stored values (uint16, clipped to ``bits_stored``)."""
    full = float(2**bits_stored - 1)
    values = (AIR_LEVEL + TISSUE_SCALE * attenuation) * full
    return np.clip(np.rint(values), 0, full).astype(np.uint16)


def presentation_window(stored: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """Window (center, width) a DM console would show: breast 0.5..99.8 percentiles plus headroom
    so that calcifications stay brighter than the densest tissue instead of saturating."""
    sample = stored[::4, ::4][mask[::4, ::4]]
    if sample.size == 0:
        sample = stored.ravel()
    lo, hi = np.percentile(sample, [0.5, 99.8])
    hi = hi + 0.15 * (hi - lo)
    width = max(float(hi - lo), 2.0)
    return float(round((lo + hi) / 2.0)), float(round(width))


def _scatter(
    anatomy: Anatomy,
    *,
    count: int,
    min_gap_px: float,
    avoid: Sequence[tuple[float, float]],
    rng: np.random.Generator,
) -> Iterator[tuple[float, float]]:
    """Up to ``count`` random placeable points (row, col), each more than ``min_gap_px`` from ``avoid`` and
    from the others; 50 draws per point at most. The caller may draw from ``rng`` between points."""
    rows_idx, cols_idx = np.nonzero(anatomy.placeable[::8, ::8])
    taken = list(avoid)
    for _ in range(count * 50):
        if len(taken) - len(avoid) == count or rows_idx.size == 0:
            return
        k = int(rng.integers(rows_idx.size))
        r, c = rows_idx[k] * 8.0 + rng.uniform(0, 8), cols_idx[k] * 8.0 + rng.uniform(0, 8)
        if all(np.hypot(r - r2, c - c2) > min_gap_px for r2, c2 in taken):
            taken.append((r, c))
            yield r, c


def place_clusters(
    anatomy: Anatomy, *, count: int, extent_px: float, spacing_mm: float, rng: np.random.Generator
) -> list[list[Speck]]:
    """Clusters at random placeable points, at least 1.5 extents apart from each other."""
    clusters = [
        cluster_specks(row=r, col=c, extent_px=extent_px, spacing_mm=spacing_mm, rng=rng)
        for r, c in _scatter(anatomy, count=count, min_gap_px=1.5 * extent_px, avoid=(), rng=rng)
    ]
    if len(clusters) < count:
        raise ValueError(f"only {len(clusters)} of {count} clusters fit in a {anatomy.mask.shape} breast")
    return clusters


def isolated_specks(
    anatomy: Anatomy,
    *,
    count: int,
    avoid: list[tuple[float, float]],
    min_gap_px: float,
    spacing_mm: float,
    rng: np.random.Generator,
) -> list[Speck]:
    """Single benign-looking specks (hard negatives) far from every cluster and from each other."""
    return [
        isolated_speck(r, c, spacing_mm=spacing_mm, rng=rng)
        for r, c in _scatter(anatomy, count=count, min_gap_px=min_gap_px, avoid=avoid, rng=rng)
    ]


@dataclass
class Phantom:
    """A synthetic mammogram: stored MONOCHROME2 values, ground truth, and the breast mask."""

    stored: np.ndarray
    truth: dict
    mask: np.ndarray


def make_mammogram(**kwargs) -> tuple[np.ndarray, dict]:
    """``make_phantom(**kwargs)`` as ``(stored uint16 pixels, truth dict)``."""
    phantom = make_phantom(**kwargs)
    return phantom.stored, phantom.truth


def make_phantom(
    *,
    seed: int = 0,
    rows: int = DEFAULT_ROWS,
    cols: int = DEFAULT_COLS,
    spacing_mm: float = DEFAULT_SPACING_MM,
    view: str = "CC",
    laterality: str = "L",
    density: str = "scattered",
    clusters: int = 2,
    isolated: int = 6,
    bits_stored: int = 12,
) -> Phantom:
    """A whole synthetic mammogram: MONOCHROME2 stored values (uint16 ``[rows, cols]``) and truth.

    The same arguments always give the same pixels. ``truth`` holds the image size, spacing,
    view, laterality, density, breast-mask bbox, window, clusters and hard negatives (isolated
    specks). Raises ``ValueError`` for out-of-range arguments or when clusters do not fit.
    """
    geometry = {
        "rows": rows,
        "cols": cols,
        "spacing_mm": spacing_mm,
        "view": view,
        "laterality": laterality,
        "density": density,
    }
    check_geometry(**geometry, bits_stored=bits_stored)
    if not 0 <= clusters <= 20 or not 0 <= isolated <= 100:
        raise ValueError(f"clusters must be 0..20 and isolated specks 0..100, got {clusters} and {isolated}")
    rng = np.random.default_rng(seed)
    anatomy = breast_anatomy(**geometry, rng=rng)
    extent_px = cluster_extent_px(spacing_mm=spacing_mm, rng=rng)
    groups = place_clusters(anatomy, count=clusters, extent_px=extent_px, spacing_mm=spacing_mm, rng=rng)
    centres = [(float(np.mean([s.row for s in g])), float(np.mean([s.col for s in g]))) for g in groups]
    singles = isolated_specks(
        anatomy, count=isolated, avoid=centres, min_gap_px=2.0 * extent_px, spacing_mm=spacing_mm, rng=rng
    )
    for group in groups:
        draw_specks(anatomy.attenuation, group, rng=rng)
    draw_specks(anatomy.attenuation, singles, rng=rng)
    stored = to_stored(anatomy.attenuation, bits_stored=bits_stored)
    center, width = presentation_window(stored, anatomy.mask)
    mr, mc = np.nonzero(anatomy.mask.any(axis=1))[0], np.nonzero(anatomy.mask.any(axis=0))[0]
    truth = {
        "format": "microcalc-synth-truth",
        "version": 1,
        "seed": seed,
        "rows": rows,
        "cols": cols,
        "pixel_spacing_mm": spacing_mm,
        "view": view,
        "laterality": laterality,
        "density": density,
        "bits_stored": bits_stored,
        "window": {"center": center, "width": width},
        "coordinates": "pixels of the written image: [row, col]; bbox [row0, col0, row1, col1) half-open",
        "breast_bbox_px": [int(mr.min()), int(mc.min()), int(mr.max()) + 1, int(mc.max()) + 1],
        "clusters": [cluster_truth(g, spacing_mm=spacing_mm, index=i) for i, g in enumerate(groups)],
        "hard_negatives": {
            "isolated_calcifications": [s.truth(spacing_mm) for s in singles],
            "vessels": anatomy.vessels,
        },
    }
    return Phantom(stored=stored, truth=truth, mask=anatomy.mask)
