"""Calcifications: grouped clusters (the positives) and isolated specks (hard negatives).

A cluster is 5-30 specks of 0.1-1.0 mm within about 1 cm (BI-RADS "grouped"). Each speck is
one to three overlapping ellipsoids (round to pleomorphic), with contrast proportional to its
thickness plus a random factor, so that some specks are faint. Specks are rendered at 4x
supersampling in a small window each (anti-aliased, no per-pixel Python loops).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SUPERSAMPLE = 4
CLUSTER_SIZE = (5, 30)
CLUSTER_EXTENT_MM = 10.0
# Isolated (benign-looking) single specks, the hard negatives of patch sets and phantoms alike.
ISOLATED_DIAMETER_MM = (0.2, 1.2)


@dataclass(frozen=True)
class Speck:
    """One calcification: centre (row, col) in pixels, diameter, peak contrast, shape."""

    row: float
    col: float
    diameter_px: float
    contrast: float
    aspect: float
    angle: float
    lobes: int

    @property
    def reach_px(self) -> float:
        """Distance from the centre beyond which the speck (every lobe) adds nothing."""
        return self.diameter_px / 2.0 * (np.sqrt(self.aspect) + 0.85)

    def truth(self, spacing_mm: float) -> dict:
        return {
            "row": round(self.row, 2),
            "col": round(self.col, 2),
            "diameter_px": round(self.diameter_px, 2),
            "diameter_mm": round(self.diameter_px * spacing_mm, 3),
            "contrast": round(self.contrast, 4),
        }


def random_speck(
    row: float, col: float, *, diameter_mm: float, spacing_mm: float, rng: np.random.Generator, faint: bool
) -> Speck:
    """A speck whose contrast grows with its size; ``faint`` ones sit near the noise level."""
    base = rng.uniform(0.025, 0.04) if faint else rng.uniform(0.05, 0.12)
    return Speck(
        row=row,
        col=col,
        diameter_px=diameter_mm / spacing_mm,
        contrast=float(base + 0.12 * diameter_mm * rng.uniform(0.5, 1.5)),
        aspect=float(rng.uniform(1.0, 2.2)),
        angle=float(rng.uniform(0, np.pi)),
        lobes=int(rng.choice([1, 1, 2, 3])),
    )


def isolated_speck(row: float, col: float, *, spacing_mm: float, rng: np.random.Generator) -> Speck:
    """A single benign-looking speck (a hard negative): 0.2-1.2 mm, faint three times in ten."""
    return random_speck(
        row,
        col,
        diameter_mm=float(rng.uniform(*ISOLATED_DIAMETER_MM)),
        spacing_mm=spacing_mm,
        rng=rng,
        faint=bool(rng.random() < 0.3),
    )


def cluster_extent_px(*, spacing_mm: float, rng: np.random.Generator, at_most_px: float = math.inf) -> float:
    """A cluster's extent in pixels: 0.6 to 1 times :data:`CLUSTER_EXTENT_MM`, capped at ``at_most_px``."""
    return min(CLUSTER_EXTENT_MM / spacing_mm, at_most_px) * rng.uniform(0.6, 1.0)


def _diameters_mm(n: int, *, max_mm: float, rng: np.random.Generator) -> np.ndarray:
    """Cluster speck diameters: log-uniform 0.1-0.6 mm, one in ten 0.6-1.0 mm, at most ``max_mm``."""
    diam = np.exp(rng.uniform(np.log(0.1), np.log(0.6), n))
    diam[rng.random(n) < 0.1] = rng.uniform(0.6, 1.0)
    return np.clip(diam, 0.1, max(max_mm, 0.1))


def filling_specks(
    *, top: float, left: float, size: int, spacing_mm: float, rng: np.random.Generator
) -> list[Speck]:
    """5-30 cluster specks scattered over a whole ``size`` px square: a patch cut inside a
    cluster larger than itself, as real 60 px (5 mm) patch sets are, rather than around one."""
    n = int(rng.integers(CLUSTER_SIZE[0], CLUSTER_SIZE[1] + 1))
    diam = _diameters_mm(n, max_mm=size * spacing_mm / 5.0, rng=rng)
    margin = diam / spacing_mm * 1.17 + 1.0  # 1.17 = max reach / diameter: whole specks only
    rows = top + margin + rng.random(n) * (size - 2 * margin)
    cols = left + margin + rng.random(n) * (size - 2 * margin)
    faint = rng.random(n) < 0.3
    return [
        random_speck(
            float(rows[i]),
            float(cols[i]),
            diameter_mm=float(diam[i]),
            spacing_mm=spacing_mm,
            rng=rng,
            faint=bool(faint[i]),
        )
        for i in range(n)
    ]


def cluster_specks(
    *, row: float, col: float, extent_px: float, spacing_mm: float, rng: np.random.Generator
) -> list[Speck]:
    """5-30 specks scattered in an ellipse of diameter ``extent_px`` around (row, col)."""
    n = int(rng.integers(CLUSTER_SIZE[0], CLUSTER_SIZE[1] + 1))
    diam = _diameters_mm(n, max_mm=min(1.0, extent_px * spacing_mm / 5.0), rng=rng)
    radius_px = extent_px / 2.0 - diam / spacing_mm * 1.17 - 1.0  # 1.17 = max reach / diameter
    ratio, theta = rng.uniform(0.5, 1.0), rng.uniform(0, np.pi)
    rho = np.sqrt(rng.random(n)) * np.maximum(radius_px, 0.0)
    phi = rng.uniform(0, 2 * np.pi, n)
    du, dv = rho * np.cos(phi), rho * np.sin(phi) * ratio
    drow = du * np.sin(theta) + dv * np.cos(theta)
    dcol = du * np.cos(theta) - dv * np.sin(theta)
    faint = rng.random(n) < 0.3
    return [
        random_speck(
            row + float(drow[i]),
            col + float(dcol[i]),
            diameter_mm=float(diam[i]),
            spacing_mm=spacing_mm,
            rng=rng,
            faint=bool(faint[i]),
        )
        for i in range(n)
    ]


def _render(speck: Speck, rng_offsets: np.ndarray) -> tuple[int, int, np.ndarray]:
    """Return the window origin and the anti-aliased profile of one speck."""
    half = int(np.ceil(speck.reach_px)) + 1
    r0, c0 = int(np.floor(speck.row)) - half, int(np.floor(speck.col)) - half
    size = 2 * half + 1
    s = (np.arange(size * SUPERSAMPLE, dtype=np.float32) + 0.5) / SUPERSAMPLE
    yy = s[:, None] + r0 - speck.row
    xx = s[None, :] + c0 - speck.col
    profile = np.zeros((size * SUPERSAMPLE, size * SUPERSAMPLE), dtype=np.float32)
    radius = speck.diameter_px / 2.0
    for k in range(speck.lobes):
        oy, ox = rng_offsets[k] * radius * 0.6 * (k > 0)
        a = radius / np.sqrt(speck.aspect) * (1.0 if k == 0 else 0.7)
        b = radius * np.sqrt(speck.aspect) * (1.0 if k == 0 else 0.7)
        ca, sa = np.cos(speck.angle + k), np.sin(speck.angle + k)
        u = ((xx - ox) * ca + (yy - oy) * sa) / b
        v = (-(xx - ox) * sa + (yy - oy) * ca) / a
        np.maximum(profile, np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0)), out=profile)
    block = profile.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))
    # Pixel-sized specks lose peak to averaging; compensate half of it, as the detector's
    # blur would spread rather than erase a dense speck.
    peak = max(float(block.max()), 0.5)
    return r0, c0, block * np.float32(speck.contrast / peak)


def draw_specks(image: np.ndarray, specks: list[Speck], *, rng: np.random.Generator) -> None:
    """Add ``specks`` to the float32 attenuation ``image`` in place (the phantom being built)."""
    rows, cols = image.shape
    for speck in specks:
        r0, c0, block = _render(speck, rng.uniform(-1, 1, (3, 2)))
        rs, cs = max(r0, 0), max(c0, 0)
        re, ce = min(r0 + block.shape[0], rows), min(c0 + block.shape[1], cols)
        if rs < re and cs < ce:
            image[rs:re, cs:ce] += block[rs - r0 : re - r0, cs - c0 : ce - c0]


def cluster_truth(specks: list[Speck], *, spacing_mm: float, index: int) -> dict:
    """Ground truth for one cluster: centre, half-open bbox [row0, col0, row1, col1), its specks."""
    rows = np.array([s.row for s in specks])
    cols = np.array([s.col for s in specks])
    rad = np.array([s.reach_px for s in specks])
    bbox = [
        int(np.floor((rows - rad).min())),
        int(np.floor((cols - rad).min())),
        int(np.ceil((rows + rad).max())) + 1,
        int(np.ceil((cols + rad).max())) + 1,
    ]
    return {
        "id": index,
        "center_px": [round(float(rows.mean()), 2), round(float(cols.mean()), 2)],
        "bbox_px": bbox,
        "n_calcifications": len(specks),
        "calcifications": [s.truth(spacing_mm) for s in specks],
    }
