"""The image the whole engine works on: 8-bit pixels in the original grid plus safe metadata.

Metadata never carries patient identity (name, ID, birth date): only what locating findings
needs, so that nothing downstream (reports, logs) can leak it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pydicom.dataset import Dataset


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
    header: Dataset | None = None
    """A DICOM input's header as the reader parsed it (:func:`~microcalc.imaging.header.evidence_header`:
    no pixel data, binary or private elements), so the SR writer files its result with the study
    without parsing the untrusted file again in the main process. It holds patient identity: only
    the SR writer reads it, never a report or a log. ``None`` for PNG, PGM and TIFF inputs."""
