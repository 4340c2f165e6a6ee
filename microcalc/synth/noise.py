"""Power-law (1/f^beta) noise: the standard statistical model of breast parenchyma.

Measured mammographic power spectra fall as 1/f^beta with beta about 2.5-3.2 (Burgess 2001;
Heine & Velthuizen 2002). The field is shaped in the Fourier domain (one FFT pair), so a
full-resolution texture costs the FFT of a reduced grid that the caller upsamples.
"""

from __future__ import annotations

import numpy as np
from scipy import fft


def power_law_noise(
    shape: tuple[int, int], *, beta: float, rng: np.random.Generator, stretch: float = 1.0
) -> np.ndarray:
    """Zero-mean, unit-std float32 noise of ``shape`` whose power spectrum falls as ``1/f**beta``.

    ``stretch > 1`` makes structures elongated along the column axis (x): frequencies along x
    are weighted ``stretch`` times more, which mimics ducts and ligaments running from the
    chest wall towards the nipple.
    """
    rows, cols = shape
    white = rng.standard_normal(shape, dtype=np.float32)
    spectrum = fft.rfft2(white, workers=-1)
    fy = fft.fftfreq(rows).astype(np.float32)[:, None]
    fx = fft.rfftfreq(cols).astype(np.float32)[None, :] * np.float32(stretch)
    f = np.sqrt(fy * fy + fx * fx)
    f[0, 0] = 1.0
    amplitude = f ** np.float32(-beta / 2.0)
    amplitude[0, 0] = 0.0  # no DC: zero mean
    field = fft.irfft2(spectrum * amplitude, s=shape, workers=-1).astype(np.float32)
    std = float(field.std())
    return field / np.float32(std if std > 0 else 1.0)
