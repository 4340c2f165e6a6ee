"""The image the whole engine works on: 8-bit pixels in the original grid plus safe metadata.

Metadata never carries patient identity (name, ID, birth date): only what locating findings
needs, so that nothing downstream (reports, logs) can leak it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageMeta:
    """Non-identifying facts about one image, read from its header (``None`` where absent)."""

    path: str
    sop_instance_uid: str | None
    modality: str | None
    laterality: str | None
    view: str | None
    rows: int
    cols: int
    pixel_spacing_mm: tuple[float, float] | None
    photometric: str | None
    transfer_syntax: str | None
    spacing_source: str | None = None
    """Where ``pixel_spacing_mm`` came from (``microcalc.imaging.spacing.dicom_spacing``)."""


@dataclass
class Mammogram:
    """``pixels``: uint8 ``[rows, cols]``, C-contiguous, never flipped; bright = dense.

    As read, ``pixels`` is in the original grid of ``meta``; the scanner may replace it by the
    image resampled to the model's spacing (:mod:`microcalc.engine.geometry`), ``meta`` unchanged.
    """

    pixels: np.ndarray
    meta: ImageMeta
