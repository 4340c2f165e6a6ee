"""Which pixel spacing a mammogram's header gives, by the DICOM rules for DX/MG images.

A model sees a calcification at the size in pixels it was trained on, so the engine needs the
physical size of one pixel in the breast. PS3.3 holds three attributes for it:

* Imager Pixel Spacing (0018,1164), Type 1 in the DX Detector Module (C.8.11.4) that every
  DX/MG image has: the spacing at the front plane of the detector, "never adjusted" for
  geometric magnification. An object in the breast appears larger there by the radiographic
  magnification (about 1.05-1.1 in contact mammography, 1.5-2.0 in magnification views).
* Estimated Radiographic Magnification Factor (0018,1114), DX Positioning Module (C.8.11.5):
  Source Image Distance / Source Object Distance; Imager Pixel Spacing divided by it is the
  spacing in the breast.
* Pixel Spacing (0028,0030), Basic Pixel Spacing Calibration Macro (PS3.3 10.7, 10.7.1.1):
  the spacing "in the Patient"; Type 1C in DX/MG, required when the image has been calibrated.
  Equal to Imager Pixel Spacing when it has not; different from it (or with a Pixel Spacing
  Calibration Type (0028,0A02) of GEOMETRY or FIDUCIAL) when the image was corrected for
  magnification or calibrated against an object of known size.

:func:`dicom_spacing` therefore takes, in order: a calibrated Pixel Spacing; else Imager Pixel
Spacing divided by the Estimated Radiographic Magnification Factor when present; else Imager
Pixel Spacing; else Pixel Spacing alone (non-DX objects such as secondary captures read with
``--force``); else nothing. Training (DICOM patches) and scanning use this same function, so
the model's recorded spacing and an image's spacing are always of the same kind.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from microcalc.errors import InputError
from microcalc.model_config import MAX_SPACING_MM, MIN_SPACING_MM

# Two spacings that differ by less than this fraction are the same (DS rounding, vendor rounding).
SAME_SPACING_RTOL = 0.01


@dataclass(frozen=True)
class PixelSpacing:
    """Row and column spacing in mm and where they came from (an attribute, an option, an assumption)."""

    row_mm: float
    col_mm: float
    source: str

    @property
    def pair(self) -> tuple[float, float]:
        return (self.row_mm, self.col_mm)


def same_spacing(a: float, b: float, *, rtol: float = SAME_SPACING_RTOL) -> bool:
    """Whether two spacings in mm agree within ``rtol`` of the larger."""
    return abs(a - b) <= rtol * max(abs(a), abs(b))


def check_spacing_mm(value: float, *, what: str) -> float:
    """``value`` as a float if it is a plausible pixel spacing in mm, else ``InputError`` naming ``what``."""
    try:
        mm = float(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{what}: pixel spacing must be a number of mm, got {value!r}") from exc
    if not MIN_SPACING_MM <= mm <= MAX_SPACING_MM:
        raise InputError(
            f"{what}: pixel spacing {mm:g} mm is outside {MIN_SPACING_MM:g}..{MAX_SPACING_MM:g} mm"
        )
    return mm


def _numbers(ds: Dataset, keyword: str) -> list[float] | None:
    """The element's values as finite floats, or ``None`` when absent or not numeric."""
    value: Any = ds.get(keyword)
    if value is None or value == "":
        return None
    try:
        numbers = [float(v) for v in (value if isinstance(value, (list, tuple, MultiValue)) else [value])]
    except (TypeError, ValueError):
        return None
    return numbers if all(math.isfinite(v) for v in numbers) else None


def _pair(ds: Dataset, keyword: str) -> tuple[float, float] | None:
    numbers = _numbers(ds, keyword)
    if numbers is None or len(numbers) != 2 or min(numbers) <= 0:
        return None
    return numbers[0], numbers[1]


def dicom_spacing(ds: Dataset) -> PixelSpacing | None:
    """The spacing in the breast of a DX/MG dataset by the rules of the module docstring, or ``None``.

    An attribute that is present but unusable (not two positive finite numbers; a magnification
    factor that is not one positive number) counts as absent, as every header field the reader
    cannot trust does: the image is then scanned as if at the model's spacing, and its report says so.
    """
    imager = _pair(ds, "ImagerPixelSpacing")
    pixel = _pair(ds, "PixelSpacing")
    calibration = str(ds.get("PixelSpacingCalibrationType", "") or "").strip().upper()
    if pixel is not None and (
        calibration or (imager is not None and not all(same_spacing(p, i) for p, i in zip(pixel, imager)))
    ):
        return PixelSpacing(
            *pixel, source=f"PixelSpacing (calibrated{', ' + calibration if calibration else ''})"
        )
    if imager is not None:
        factor = _numbers(ds, "EstimatedRadiographicMagnificationFactor")
        if factor is not None and len(factor) == 1 and factor[0] > 0:
            return PixelSpacing(
                imager[0] / factor[0],
                imager[1] / factor[0],
                source=f"ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor {factor[0]:g}",
            )
        return PixelSpacing(*imager, source="ImagerPixelSpacing")
    if pixel is not None:
        return PixelSpacing(*pixel, source="PixelSpacing")
    return None
