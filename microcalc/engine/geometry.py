"""Scanning at the model's pixel spacing: resample each image before masking and tiling, map back after.

A model sees a calcification at the size in pixels it was trained on. Detectors differ (0.05 mm
to 0.1 mm, coarser for digitised film), so each image is first resampled by
``original spacing / model spacing`` per axis (:func:`microcalc.imaging.resample.resample_to_shape`:
area averaging down, cubic spline up). Mask, tiles, scores and findings then live in that
*scanned* grid; :meth:`ScanGeometry.to_original` maps findings back to the original pixel grid,
the one every report uses, and :attr:`ScanGeometry.spacing_mm` turns them into mm.

Where each spacing comes from:

* the image's: its DICOM header (:func:`microcalc.imaging.spacing.dicom_spacing`), else the
  ``--spacing`` the user gave for inputs without one (PNG, PGM, TIFF), else it is *assumed* to
  be the model's (scanned as it is) and the report says so;
* the model's: its config (``ModelConfig.pixel_spacing_mm``); without one every image is
  scanned at its native grid and the report says so.

Spacings within 1% of each other (DS rounding) count as equal: the image is not resampled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from microcalc.engine.findings import Box, Finding
from microcalc.errors import InputError
from microcalc.imaging.resample import resample_to_shape
from microcalc.imaging.spacing import PixelSpacing, same_spacing
from microcalc.imaging.types import Mammogram

OPTION_SOURCE = "--spacing"
ASSUMED_SOURCE = "assumed: the model's spacing"


@dataclass(frozen=True)
class ScanGeometry:
    """How one image was brought to the model's spacing, and the way back.

    Attributes:
        original_shape: ``(rows, cols)`` of the image as read.
        scanned_shape: ``(rows, cols)`` of the grid that was masked and tiled.
        spacing: the image's spacing (``source`` says where it came from), ``None`` when unknown.
        model_spacing_mm: the model's spacing, ``None`` when its config records none.
        note: one line for the report when something was assumed, else ``None``.
    """

    original_shape: tuple[int, int]
    scanned_shape: tuple[int, int]
    spacing: PixelSpacing | None
    model_spacing_mm: float | None
    note: str | None = None

    @property
    def resampled(self) -> bool:
        return self.scanned_shape != self.original_shape

    @property
    def scale(self) -> tuple[float, float]:
        """Scanned pixels per original pixel, per axis (rows, cols)."""
        return (
            self.scanned_shape[0] / self.original_shape[0],
            self.scanned_shape[1] / self.original_shape[1],
        )

    @property
    def spacing_mm(self) -> tuple[float, float] | None:
        """The original grid's spacing (row, col) in mm that findings are reported with, or ``None``."""
        return self.spacing.pair if self.spacing is not None else None

    def _box(self, box: Box) -> Box:
        (rows, cols), (sr, sc) = self.original_shape, self.scale
        return Box(
            x0=max(0, math.floor(box.x0 / sc)),
            y0=max(0, math.floor(box.y0 / sr)),
            x1=min(cols, math.ceil(box.x1 / sc)),
            y1=min(rows, math.ceil(box.y1 / sr)),
        )

    def to_original(self, findings: list[Finding]) -> list[Finding]:
        """``findings`` of the scanned grid with their boxes in the original pixel grid."""
        if not self.resampled:
            return list(findings)
        return [replace(f, frame=self._box(f.frame), bbox=self._box(f.bbox)) for f in findings]

    def to_dict(self) -> dict[str, Any]:
        spacing = self.spacing
        return {
            "original_spacing_mm": list(spacing.pair) if spacing is not None else None,
            "spacing_source": spacing.source if spacing is not None else None,
            "model_spacing_mm": self.model_spacing_mm,
            "scale": [round(v, 6) for v in self.scale],
            "resampled": self.resampled,
            "scanned_shape": list(self.scanned_shape),
            "note": self.note,
        }


def plan_geometry(
    image: Mammogram,
    *,
    model_spacing_mm: float | None,
    input_spacing_mm: float | None = None,
    native_grid: bool = False,
) -> ScanGeometry:
    """Decide the scanned grid of ``image`` (see the module docstring); nothing is resampled yet.

    ``native_grid`` (``--native-grid``) keeps every image at its own grid although the model has a
    spacing, as scanners did before resampling existed; only for measuring what resampling is worth.
    """
    meta = image.meta
    shape = (int(image.pixels.shape[0]), int(image.pixels.shape[1]))
    note = None
    if meta.pixel_spacing_mm is not None:
        spacing = PixelSpacing(*meta.pixel_spacing_mm, source=meta.spacing_source or "header")
    elif input_spacing_mm is not None:
        spacing = PixelSpacing(input_spacing_mm, input_spacing_mm, source=OPTION_SOURCE)
    elif model_spacing_mm is not None:
        spacing = PixelSpacing(model_spacing_mm, model_spacing_mm, source=ASSUMED_SOURCE)
        note = (
            f"the input has no pixel spacing and no --spacing was given: assumed the model's "
            f"{model_spacing_mm:g} mm"
        )
    else:
        spacing = None
    if model_spacing_mm is None:
        return ScanGeometry(
            original_shape=shape,
            scanned_shape=shape,
            spacing=spacing,
            model_spacing_mm=None,
            note="the model records no pixel spacing: scanned at the native grid",
        )
    if native_grid:
        return ScanGeometry(
            original_shape=shape,
            scanned_shape=shape,
            spacing=spacing,
            model_spacing_mm=model_spacing_mm,
            note=f"--native-grid: scanned at the native grid, not at the model's {model_spacing_mm:g} mm",
        )
    scanned = tuple(
        shape[i]
        if same_spacing(spacing.pair[i], model_spacing_mm)
        else max(1, round(shape[i] * spacing.pair[i] / model_spacing_mm))
        for i in (0, 1)
    )
    return ScanGeometry(
        original_shape=shape,
        scanned_shape=scanned,
        spacing=spacing,
        model_spacing_mm=model_spacing_mm,
        note=note,
    )


def to_model_grid(
    image: Mammogram,
    *,
    model_spacing_mm: float | None,
    input_spacing_mm: float | None = None,
    native_grid: bool = False,
    min_side: int = 0,
) -> tuple[Mammogram, ScanGeometry]:
    """``image`` resampled to the model's spacing (or as it is) and its :class:`ScanGeometry`.

    Raises:
        InputError: in the grid it would be scanned in (after resampling) the image is smaller than
            ``min_side`` (one tile); the grid as read may be smaller or larger.
    """
    geometry = plan_geometry(
        image, model_spacing_mm=model_spacing_mm, input_spacing_mm=input_spacing_mm, native_grid=native_grid
    )
    rows, cols = geometry.scanned_shape
    if min(rows, cols) < min_side:  # the scan's one "at least one tile" check, on the grid it tiles
        at = f"at the model's spacing of {model_spacing_mm:g} mm" if geometry.resampled else "as scanned"
        raise InputError(
            f"{image.meta.path}: {at} the image is {rows}x{cols}, smaller than one {min_side}x{min_side} tile"
        )
    if not geometry.resampled:
        return image, geometry
    return replace(image, pixels=resample_to_shape(image.pixels, geometry.scanned_shape)), geometry
