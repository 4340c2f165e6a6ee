"""Image statistics that tell synthetic patches from real ones, and distances between their distributions.

A model trained on synthetic patches transfers to real ones only as far as the two look alike to
it, so ``mc-synth compare`` measures the differences a detector is sensitive to: grey levels,
the noise power spectrum (its 1/f^beta slope for tissue, its high-frequency level for quantum
noise and film grain), local contrast, and the bright specks (count, size, contrast). Each
statistic is a plain function of one 8-bit patch with a known answer on a hand-made image
(tests/synth/test_realism.py); the report (``realism_report``) compares their distributions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage, stats

# Frequency band (cycles/pixel) of the 1/f^beta fit: above the patch's own size, below the
# band where quantum noise and film grain flatten the spectrum.
SLOPE_BAND = (0.04, 0.25)
# Band whose mean power measures the fine noise (quantum, electronic, film grain).
NOISE_BAND = (0.3, 0.5)
LOCAL_WINDOW = 7
SPECK_SIGMAS = (0.8, 4.0)
MIN_SPECK_CONTRAST = 12.0  # grey levels above the local background


@dataclass(frozen=True)
class Speck:
    """A detected bright speck: centre (px), LoG scale sigma (px) and contrast (grey levels)."""

    row: float
    col: float
    sigma: float
    contrast: float

    @property
    def diameter_px(self) -> float:
        """Diameter of a disc whose LoG response peaks at ``sigma`` (2 * sqrt(2) * sigma)."""
        return float(2.0 * np.sqrt(2.0) * self.sigma)


def radial_nps(patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Radially averaged noise power spectrum of one patch: (frequencies in cycles/px, power).

    The patch mean is removed and a Hann window applied (no edge leakage into high frequencies);
    bins are one frequency step wide, from the first non-zero frequency to Nyquist.
    """
    img = np.asarray(patch, dtype=np.float64)
    rows, cols = img.shape
    window = np.outer(np.hanning(rows), np.hanning(cols))
    centred = (img - img.mean()) * window
    power = np.abs(np.fft.fft2(centred)) ** 2 / float((window**2).sum())
    f = np.hypot(np.fft.fftfreq(rows)[:, None], np.fft.fftfreq(cols)[None, :])
    step = 1.0 / min(rows, cols)
    edges = np.arange(step / 2.0, 0.5 + step, step)
    which = np.digitize(f.ravel(), edges)
    sums = np.bincount(which, weights=power.ravel(), minlength=len(edges) + 1)
    counts = np.bincount(which, minlength=len(edges) + 1)
    keep = slice(1, len(edges))
    freqs = (edges[:-1] + edges[1:]) / 2.0
    return freqs, sums[keep] / np.maximum(counts[keep], 1)


def spectral_slope(patch: np.ndarray, *, band: tuple[float, float] = SLOPE_BAND) -> float:
    """``beta`` of a ``1/f**beta`` fit of the NPS in ``band`` (least squares in log-log).

    NaN for a flat patch (no power to fit); ``ValueError`` when the patch is too small to hold
    three frequency bins in ``band``.
    """
    freqs, power = radial_nps(patch)
    sel = (freqs >= band[0]) & (freqs <= band[1])
    if sel.sum() < 3:
        raise ValueError(f"a {patch.shape} patch has fewer than 3 frequency bins in {band} cycles/px")
    sel &= power > 1e-12
    if sel.sum() < 3:
        return float("nan")
    slope, _ = np.polyfit(np.log(freqs[sel]), np.log(power[sel]), 1)
    return float(-slope)


def noise_level(patch: np.ndarray, *, band: tuple[float, float] = NOISE_BAND) -> float:
    """log10 of the mean NPS in ``band``: the fine, uncorrelated noise (grey levels squared)."""
    freqs, power = radial_nps(patch)
    sel = (freqs >= band[0]) & (freqs <= band[1])
    return float(np.log10(max(float(power[sel].mean()), 1e-12)))


def local_contrast(patch: np.ndarray, *, window: int = LOCAL_WINDOW) -> float:
    """Mean standard deviation of grey levels in ``window`` x ``window`` neighbourhoods."""
    img = np.asarray(patch, dtype=np.float64)
    mean = ndimage.uniform_filter(img, window, mode="reflect")
    sq = ndimage.uniform_filter(img * img, window, mode="reflect")
    return float(np.sqrt(np.clip(sq - mean * mean, 0.0, None)).mean())


def _log_peaks(img: np.ndarray, sigmas: np.ndarray, threshold: float) -> np.ndarray:
    """(row, col, sigma) of the spatial maxima of the scale-normalised negative Laplacian of
    Gaussian (Lindeberg), taken at each pixel's best scale. At a Gaussian blob of amplitude A
    and standard deviation s the response peaks at scale s with value A / 2."""
    stack = np.stack([-(s * s) * ndimage.gaussian_laplace(img, s, mode="reflect") for s in sigmas])
    best = stack.max(axis=0)
    peaks = (best == ndimage.maximum_filter(best, size=3, mode="nearest")) & (best >= threshold)
    r, c = np.nonzero(peaks)
    return np.stack([r, c, sigmas[stack.argmax(axis=0)[r, c]]], axis=1).astype(np.float64)


def bright_specks(
    patch: np.ndarray, *, sigmas: tuple[float, float] = SPECK_SIGMAS, min_contrast: float = MIN_SPECK_CONTRAST
) -> list[Speck]:
    """Bright blobs (Laplacian-of-Gaussian scale space) standing ``min_contrast`` above their surround.

    The contrast is the blob's peak (lightly smoothed) minus the median of a ring from 2 to 3
    blob radii around it, so a speck on a bright vessel or dense tissue counts only its excess.
    A Gaussian blob of standard deviation ``s`` is found at ``sigma = s``.
    """
    img = np.asarray(patch, dtype=np.float64)
    scales = np.geomspace(sigmas[0], sigmas[1], 10)
    smooth = ndimage.gaussian_filter(img, 0.5)
    out = []
    for r, c, s in _log_peaks(img, scales, threshold=min_contrast / 4.0):
        radius = np.sqrt(2.0) * s
        reach = int(np.ceil(3.0 * radius + 2.0))
        r0, c0 = max(int(r) - reach, 0), max(int(c) - reach, 0)
        window = img[r0 : int(r) + reach + 1, c0 : int(c) + reach + 1]
        yy, xx = np.indices(window.shape)
        d = np.hypot(yy + r0 - r, xx + c0 - c)
        ring = window[(d >= 2.0 * radius + 1.0) & (d <= 3.0 * radius + 2.0)]
        if ring.size == 0:
            continue
        contrast = float(smooth[int(r), int(c)] - np.median(ring))
        if contrast >= min_contrast:
            out.append(Speck(row=float(r), col=float(c), sigma=float(s), contrast=contrast))
    return out


def patch_statistics(patch: np.ndarray, specks: list[Speck]) -> dict[str, float]:
    """Per-patch scalars compared by the report (names are the report's row names).

    ``specks`` are the patch's :func:`bright_specks`, found once by the caller for both the
    count here and the per-speck distributions.
    """
    img = np.asarray(patch, dtype=np.float64)
    return {
        "mean_grey": float(img.mean()),
        "std_grey": float(img.std()),
        "nps_beta": spectral_slope(patch),
        "noise_log10_power": noise_level(patch),
        "local_contrast": local_contrast(patch),
        "speck_count": float(len(specks)),
    }


def distances(real: np.ndarray, synth: np.ndarray) -> dict[str, float]:
    """How far two samples of one statistic lie apart.

    ``wasserstein`` is in the statistic's own units (earth mover's distance); ``ks`` is the
    Kolmogorov-Smirnov statistic in [0, 1], comparable across statistics, which ranks them.
    Non-finite values (the slope of a flat patch) are left out.
    """
    real, synth = np.asarray(real, dtype=np.float64), np.asarray(synth, dtype=np.float64)
    real, synth = real[np.isfinite(real)], synth[np.isfinite(synth)]
    if real.size == 0 or synth.size == 0:
        return {"wasserstein": float("nan"), "ks": float("nan")}
    return {
        "wasserstein": float(stats.wasserstein_distance(real, synth)),
        "ks": float(stats.ks_2samp(real, synth).statistic),
    }
