"""The pixel spacing a model is trained at, recorded in its config so that scanning can match it.

Where it comes from, in order of trust:

* the training data: DICOM patches carry it in their headers (read with
  :func:`microcalc.imaging.spacing.dicom_spacing`, the rule the scanner applies to mammograms);
  an ``mc-synth patches`` folder records it in ``truth.json`` (``spacing_mm``);
* ``--spacing-mm``: for PNG/TIFF patches whose source spacing the user knows.

Data whose patches disagree (two detectors mixed) or are anisotropic are refused with one line,
and so is a ``--spacing-mm`` that contradicts the data: a model has one spacing. Without
either source the spacing is unknown (``None``) and scans run at each image's native grid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pydicom
from pydicom.errors import InvalidDicomError

from microcalc.errors import InputError
from microcalc.imaging.patches import DICOM_SUFFIXES, looks_dicom
from microcalc.imaging.spacing import check_spacing_mm, dicom_spacing, same_spacing
from microcalc.trainer.data import PatchSet

SYNTH_TRUTH = "truth.json"


def _truth_spacing(root: Path) -> tuple[float, str] | None:
    truth = root / SYNTH_TRUTH
    if not truth.is_file():
        return None
    try:
        value = json.loads(truth.read_text()).get("spacing_mm")
    except (OSError, ValueError, AttributeError) as exc:
        raise InputError(f"{truth}: unreadable truth file ({exc})") from exc
    return (check_spacing_mm(value, what=str(truth)), str(truth)) if value is not None else None


def _dicom_spacings(patch_set: PatchSet) -> list[tuple[float, str]]:
    found = []
    for sample in patch_set.samples:
        path = sample.path
        if path.suffix.lower() not in DICOM_SUFFIXES and not (path.suffix == "" and looks_dicom(path)):
            continue
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError) as exc:
            raise InputError(f"{path}: cannot read the DICOM header ({exc})") from exc
        spacing = dicom_spacing(ds)
        if spacing is None:
            continue
        if not same_spacing(spacing.row_mm, spacing.col_mm):
            raise InputError(
                f"{path}: anisotropic pixel spacing {spacing.row_mm:g} x {spacing.col_mm:g} mm; "
                "resample the patches to square pixels first"
            )
        found.append((spacing.row_mm, f"{path} ({spacing.source})"))
    return found


def training_spacing(
    patch_sets: list[PatchSet], roots: list[Path], *, override: float | None
) -> float | None:
    """The model's pixel spacing in mm from the data and ``--spacing-mm`` (see the module docstring).

    Args:
        patch_sets: the training (and validation) patches, whose DICOM headers are read.
        roots: their folders, where an ``mc-synth`` ``truth.json`` may record the spacing.
        override: ``--spacing-mm``, or ``None``.

    Raises:
        InputError: the data disagree with each other or with ``override``, or a header is malformed.
    """
    found = [s for s in (_truth_spacing(r) for r in roots if r.is_dir()) if s is not None]
    for patch_set in patch_sets:
        found += _dicom_spacings(patch_set)
    for value, where in found[1:]:
        if not same_spacing(value, found[0][0]):
            raise InputError(
                f"the training data mix pixel spacings: {found[0][0]:g} mm in {found[0][1]} and "
                f"{value:g} mm in {where}; a model has one spacing"
            )
    if override is not None:
        override = check_spacing_mm(override, what="--spacing-mm")
        if found and not same_spacing(override, found[0][0]):
            raise InputError(
                f"--spacing-mm {override:g} contradicts the data: {found[0][0]:g} mm in {found[0][1]}"
            )
        return override
    return found[0][0] if found else None
