"""Domain randomisation of how a detector or a film digitiser renders the same tissue.

Real patch sets come from many machines: film and screen, digitiser, processing and display
window all differ, and a model trained on one rendering learns its quirks. ``mc-synth compare``
against real 60x60 film patches (docs/synth_realism.md) showed the default rendering with
three to four times the real tissue contrast at the 5 mm scale, a spectrum far steeper than the
real one (beta 4.3 against 2.1: the smooth tissue is upsampled from a coarse grid), and a window
stretched over one small phantom instead of a whole breast. An :class:`Appearance` draws, per
phantom, what real acquisitions vary, all in physical units (mm, attenuation):

- anatomical contrast: how much of the tissue's variation survives compression and processing;
- fine texture: full-resolution 1/f^2 parenchyma the coarse grid lacks;
- blur: the detector's or the digitiser's MTF, a Gaussian of ``blur_mm``;
- noise: quantum and electronic noise, or film grain, white then slightly correlated;
- window: the width and level of a whole-breast presentation window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from microcalc.synth.noise import power_law_noise
from microcalc.synth.phantom import AIR_LEVEL, TISSUE_SCALE

# Ranges drawn uniformly (log-uniformly for the scale-like ones); attenuation units unless named.
TISSUE_CONTRAST = (0.15, 0.6)
FINE_TEXTURE = (0.006, 0.025)
BLUR_MM = (0.02, 0.09)
NOISE = (0.004, 0.016)
GRAIN_PX = (0.3, 0.8)
WINDOW_WIDTH = (0.6, 1.4)
LEVEL_SHIFT = (-0.25, 0.45)  # window centre relative to the tissue mean, in window widths


@dataclass(frozen=True)
class Appearance:
    """One acquisition's rendering parameters (see the module docstring)."""

    tissue_contrast: float
    fine_texture: float
    blur_mm: float
    noise: float
    grain_px: float
    window_width: float
    level_shift: float


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(np.exp(rng.uniform(np.log(bounds[0]), np.log(bounds[1]))))


def draw_appearance(rng: np.random.Generator) -> Appearance:
    """A random rendering within the ranges above."""
    return Appearance(
        tissue_contrast=_log_uniform(rng, TISSUE_CONTRAST),
        fine_texture=_log_uniform(rng, FINE_TEXTURE),
        blur_mm=float(rng.uniform(*BLUR_MM)),
        noise=_log_uniform(rng, NOISE),
        grain_px=float(rng.uniform(*GRAIN_PX)),
        window_width=_log_uniform(rng, WINDOW_WIDTH),
        level_shift=float(rng.uniform(*LEVEL_SHIFT)),
    )


def render_tissue(attenuation: np.ndarray, look: Appearance, *, rng: np.random.Generator) -> np.ndarray:
    """Tissue as this acquisition shows it: contrast scaled about the mean, plus fine texture.

    Returns a new float32 array (calcifications are drawn on it afterwards, at full contrast).
    """
    mean = np.float32(attenuation.mean())
    fine = power_law_noise(attenuation.shape, beta=2.0, rng=rng) * np.float32(look.fine_texture)
    return (mean + np.float32(look.tissue_contrast) * (attenuation - mean) + fine).astype(np.float32)


def render_detector(
    attenuation: np.ndarray, look: Appearance, *, spacing_mm: float, rng: np.random.Generator
) -> np.ndarray:
    """The image the detector (or film and digitiser) records: MTF blur, then noise or grain."""
    blurred = ndimage.gaussian_filter(attenuation, look.blur_mm / spacing_mm, mode="reflect")
    noise = rng.standard_normal(attenuation.shape, dtype=np.float32)
    noise = ndimage.gaussian_filter(noise, look.grain_px, mode="reflect")
    noise *= np.float32(look.noise / max(float(noise.std()), 1e-6))
    return (blurred + noise).astype(np.float32)


def window(attenuation: np.ndarray, look: Appearance, *, bits_stored: int) -> tuple[float, float]:
    """Presentation window (centre, width) in stored values for this acquisition."""
    full = float(2**bits_stored - 1)
    centre = float(attenuation.mean()) + look.level_shift * look.window_width
    return (round((AIR_LEVEL + TISSUE_SCALE * centre) * full), round(TISSUE_SCALE * look.window_width * full))
