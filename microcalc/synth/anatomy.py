"""Breast anatomy as an attenuation map (bright = dense): outline, skin, tissue, pectoral, vessels.

Everything smooth is built on a grid reduced by ``LOWRES`` and upsampled linearly, which keeps a
4096x3328 image at a few seconds; only quantum noise and calcifications (see ``calcs``) are
drawn at full resolution. The chest wall is on the left for laterality L and on the right for
R (the left-breast anatomy mirrored), as most DM systems store them.

Attenuation units: fat ~0.30, fibroglandular ~0.75, pectoral ~0.80, air 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from microcalc.synth.noise import power_law_noise

LOWRES = 4
DENSITIES = ("fatty", "scattered", "hetero", "dense")
VIEWS = ("CC", "MLO")
LATERALITIES = ("L", "R")

# Threshold on the unit-std parenchyma noise: higher -> less fibroglandular tissue (BI-RADS a-d).
_DENSITY_THRESHOLD = {"fatty": 1.4, "scattered": 0.75, "hetero": 0.1, "dense": -0.6}
FAT, GLAND, PECTORAL = 0.30, 0.75, 0.68
QUANTUM_NOISE = 0.008  # per-pixel std at NOISE_SPACING_MM
NOISE_SPACING_MM = 0.07


def quantum_noise_std(spacing_mm: float) -> np.float32:
    """Per-pixel quantum noise at ``spacing_mm`` for the same dose: photons per pixel grow with its
    area, so the std scales as ``NOISE_SPACING_MM / spacing_mm`` (a 0.05 mm detector is noisier per
    pixel than a 0.1 mm one; averaged to the same pixel size, they agree)."""
    return np.float32(QUANTUM_NOISE * NOISE_SPACING_MM / spacing_mm)


@dataclass
class Anatomy:
    """Full-resolution attenuation (float32), breast mask, and where clusters may be placed."""

    attenuation: np.ndarray
    mask: np.ndarray
    placeable: np.ndarray  # bool: inside the breast, away from the skin and the pectoral muscle
    vessels: list[dict]  # {"width_mm", "path_px": [[row, col], ...]} in full-resolution pixels


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _outline(shape: tuple[int, int], view: str, rng: np.random.Generator) -> np.ndarray:
    """Chest-wall-left breast mask on the low-res grid: rounded for CC, with axilla for MLO."""
    rows, cols = shape
    v = (np.arange(rows, dtype=np.float32) + 0.5) / rows
    depth = rng.uniform(0.62, 0.8)
    wobble = 1.0 + 0.025 * power_law_noise((rows, 1), beta=3.0, rng=rng)[:, 0]
    if view == "CC":
        centre, half = rng.uniform(0.46, 0.54), rng.uniform(0.41, 0.46)
        edge = depth * np.clip(1.0 - ((v - centre) / half) ** 2, 0.0, None) ** 0.55
    else:
        centre, half = rng.uniform(0.55, 0.62), rng.uniform(0.3, 0.36)
        lower = depth * np.clip(1.0 - ((v - centre) / half) ** 2, 0.0, None) ** 0.55
        upper = depth * (1.0 - 0.65 * np.clip((centre - v) / centre, 0.0, 1.0) ** 1.4)
        edge = np.where(v < centre, upper, lower)
    x_edge = edge * wobble * cols
    u = np.arange(cols, dtype=np.float32)[None, :] + 0.5
    return u < x_edge[:, None]


def _vessels(
    shape: tuple[int, int], mask: np.ndarray, px_mm: float, rng: np.random.Generator, count: int
) -> tuple[np.ndarray, list[dict]]:
    """Smoothly curving bright vessels running from the chest wall towards the nipple.

    Returns the attenuation layer and each vessel's width and path (low-res pixels, every 8th
    point, inside the mask).
    """
    layer = np.zeros(shape, dtype=np.float32)
    paths: list[dict] = []
    rows, cols = shape
    inside_rows = np.flatnonzero(mask[:, : max(cols // 10, 1)].any(axis=1))
    if inside_rows.size == 0:
        return layer, paths
    for _ in range(count):
        width_mm = rng.uniform(0.8, 2.0)
        sigma = max(width_mm / px_mm / 2.355, 0.6)
        r, c = float(rng.choice(inside_rows)), rng.uniform(0, cols * 0.15)
        angle = rng.uniform(-0.5, 0.5)
        steps = int(rng.uniform(0.4, 0.9) * cols * 2)
        turns = np.cumsum(rng.normal(0.0, 0.03, steps))
        dr = np.sin(angle + turns) * 0.5
        dc = np.cos(angle + turns) * 0.5
        rr, cc = r + np.cumsum(dr), c + np.cumsum(dc)
        ok = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        ok[ok] = mask[rr[ok].astype(int), cc[ok].astype(int)]
        line = np.zeros(shape, dtype=np.float32)
        np.add.at(line, (rr[ok].astype(int), cc[ok].astype(int)), 0.5)
        blurred = ndimage.gaussian_filter(line, sigma)
        layer += blurred * np.float32(np.sqrt(2 * np.pi) * sigma * rng.uniform(0.05, 0.11))
        if ok.any():
            paths.append(
                {"width_mm": round(width_mm, 2), "path_px": np.stack([rr[ok][::8], cc[ok][::8]], axis=1)}
            )
    return layer * mask, paths


def _full_res_paths(paths: list[dict], *, cols: int, mirror: bool) -> list[dict]:
    """Low-res vessel paths -> full-resolution [row, col] lists (mirrored for laterality R)."""
    out = []
    for vessel in paths:
        pts = vessel["path_px"] * LOWRES + LOWRES / 2.0
        if mirror:
            pts[:, 1] = cols - pts[:, 1]
        out.append({"width_mm": vessel["width_mm"], "path_px": np.round(pts, 1).tolist()})
    return out


def _upsample(arr: np.ndarray, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    zoom = (shape[0] / arr.shape[0], shape[1] / arr.shape[1])
    return ndimage.zoom(arr, zoom, order=order, grid_mode=True, mode="nearest")[: shape[0], : shape[1]]


def _parenchyma(
    shape: tuple[int, int], density: str, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Fibroglandular fraction (soft-thresholded duct-oriented 1/f^3 noise) and fine 1/f^2.5 texture."""
    structure = power_law_noise(shape, beta=rng.uniform(2.8, 3.2), rng=rng, stretch=1.8)
    texture = power_law_noise(shape, beta=rng.uniform(2.5, 2.8), rng=rng)
    gland = 1.0 / (1.0 + np.exp(-(structure - _DENSITY_THRESHOLD[density]) / 0.3))
    return gland.astype(np.float32), texture


def breast_anatomy(
    *,
    rows: int,
    cols: int,
    spacing_mm: float,
    view: str,
    laterality: str,
    density: str,
    rng: np.random.Generator,
) -> Anatomy:
    """A whole compressed breast: outline with skin line and edge fall-off, air, pectoral on MLO."""
    low = (-(-rows // LOWRES), -(-cols // LOWRES))
    px_mm = spacing_mm * LOWRES
    mask = _outline(low, view, rng)
    padded = np.pad(mask, ((1 if view == "MLO" else 0, 0), (1, 0)), constant_values=True)
    dist = ndimage.distance_transform_edt(padded)[1 if view == "MLO" else 0 :, 1:] * px_mm
    dist = dist.astype(np.float32)
    thickness = np.sqrt(np.clip(1.0 - (1.0 - np.clip(dist / 9.0, 0, 1)) ** 2, 0, 1)) * mask
    skin = np.exp(-0.5 * ((dist - 0.9) / 0.5) ** 2) * mask * np.float32(0.10)
    x_mm = (np.arange(low[1], dtype=np.float32)[None, :] + 0.5) * px_mm
    envelope = _smoothstep(dist, 4.0, 22.0) * _smoothstep(x_mm, 3.0, 18.0)
    gland, texture = _parenchyma(low, density, rng)
    tissue = FAT + (GLAND - FAT) * gland * envelope + 0.035 * texture
    pectoral = np.zeros(low, dtype=np.float32)
    if view == "MLO":
        top, side = rng.uniform(0.28, 0.4) * low[1], rng.uniform(0.35, 0.5) * low[0]
        yy, xx = np.mgrid[0 : low[0], 0 : low[1]].astype(np.float32)
        reach = (xx / top) ** 0.9 + (yy / side) ** 1.1  # slightly convex boundary
        pectoral = (1.0 - _smoothstep(reach, 0.97, 1.03)) * mask
        tissue = tissue * (1 - pectoral) + (PECTORAL + 0.06 * texture) * pectoral
    vessel_layer, paths = _vessels(low, mask, px_mm, rng, int(rng.integers(2, 5)))
    attenuation = thickness * tissue + skin + vessel_layer
    placeable = mask & (dist > 10.0) & (pectoral < 0.01) & (x_mm > 10.0)
    if laterality == "R":
        attenuation, mask, placeable = attenuation[:, ::-1], mask[:, ::-1], placeable[:, ::-1]
    full = _upsample(np.ascontiguousarray(attenuation, dtype=np.float32), (rows, cols))
    full_mask = _upsample(np.ascontiguousarray(mask, dtype=np.uint8), (rows, cols), order=0).astype(bool)
    full_place = _upsample(np.ascontiguousarray(placeable, dtype=np.uint8), (rows, cols), order=0).astype(
        bool
    )
    full += rng.standard_normal((rows, cols), dtype=np.float32) * quantum_noise_std(spacing_mm)
    return Anatomy(
        attenuation=full,
        mask=full_mask,
        placeable=full_place,
        vessels=_full_res_paths(paths, cols=cols, mirror=laterality == "R"),
    )


def tissue_field(
    *, rows: int, cols: int, spacing_mm: float, density: str, rng: np.random.Generator
) -> Anatomy:
    """Breast interior only (no outline): the region patches are cut from, with vessels."""
    low = (-(-rows // LOWRES), -(-cols // LOWRES))
    px_mm = spacing_mm * LOWRES
    gland, texture = _parenchyma(low, density, rng)
    envelope = np.float32(rng.uniform(0.5, 1.0))
    mask = np.ones(low, dtype=bool)
    n_vessels = int(rng.poisson(max(rows * cols * spacing_mm**2 / 900.0, 0.3)))
    attenuation = FAT + (GLAND - FAT) * gland * envelope + 0.035 * texture
    vessel_layer, paths = _vessels(low, mask, px_mm, rng, n_vessels)
    attenuation = attenuation + vessel_layer
    full = _upsample(np.ascontiguousarray(attenuation, dtype=np.float32), (rows, cols))
    full += rng.standard_normal((rows, cols), dtype=np.float32) * quantum_noise_std(spacing_mm)
    ones = np.ones((rows, cols), dtype=bool)
    return Anatomy(
        attenuation=full, mask=ones, placeable=ones, vessels=_full_res_paths(paths, cols=cols, mirror=False)
    )
