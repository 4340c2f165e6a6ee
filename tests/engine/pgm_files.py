"""Netpbm greymaps (P5) as mini-MIAS and converted DDSM ship them, written byte by byte so that the
test controls maxval (Pillow writes 16-bit PGM only with maxval 65535)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_pgm(path: Path, grey: np.ndarray, *, bits: int) -> Path:
    """Write uint8 ``grey`` as an 8-bit P5 (maxval 255) or a 12-bit-in-16 P5 (maxval 4095, big-endian)."""
    if bits == 8:
        maxval, data = 255, grey.astype(np.uint8)
    else:
        maxval, data = 4095, (grey.astype(np.uint32) * 4095 // 255).astype(">u2")
    rows, cols = grey.shape
    path.write_bytes(b"P5\n%d %d\n%d\n" % (cols, rows, maxval) + data.tobytes())
    return path
