"""Which pixel spacing a DX/MG header gives (PS3.3 10.7.1.1, C.8.11.4, C.8.11.5); For Processing refused."""

from __future__ import annotations

import numpy as np
import pytest
from pydicom.dataset import Dataset

from microcalc.errors import InputError
from microcalc.imaging import read_mammogram
from microcalc.imaging.spacing import check_spacing_mm, dicom_spacing, same_spacing
from microcalc.synth.dicom_writer import DM_FOR_PROCESSING, DicomSpec, write_mammogram_dicom


def _ds(**attrs) -> Dataset:
    ds = Dataset()
    for key, value in attrs.items():
        setattr(ds, key, value)
    return ds


@pytest.mark.parametrize(
    "attrs, expected, source",
    [
        # DX/MG: Imager Pixel Spacing (Type 1) alone, at the detector
        ({"ImagerPixelSpacing": ["0.07", "0.07"]}, (0.07, 0.07), "ImagerPixelSpacing"),
        # Pixel Spacing equal to Imager Pixel Spacing: not calibrated (10.7.1.1), the detector value
        (
            {"ImagerPixelSpacing": ["0.1", "0.1"], "PixelSpacing": ["0.1", "0.1"]},
            (0.1, 0.1),
            "ImagerPixelSpacing",
        ),
        # Pixel Spacing different from Imager Pixel Spacing: corrected for magnification -> in the patient
        (
            {"ImagerPixelSpacing": ["0.07", "0.07"], "PixelSpacing": ["0.065", "0.065"]},
            (0.065, 0.065),
            "PixelSpacing (calibrated)",
        ),
        # an explicit calibration type marks Pixel Spacing as calibrated even when equal
        (
            {
                "ImagerPixelSpacing": ["0.085", "0.085"],
                "PixelSpacing": ["0.085", "0.085"],
                "PixelSpacingCalibrationType": "GEOMETRY",
            },
            (0.085, 0.085),
            "PixelSpacing (calibrated, GEOMETRY)",
        ),
        # a magnification view: detector spacing divided by the magnification factor
        (
            {"ImagerPixelSpacing": ["0.07", "0.07"], "EstimatedRadiographicMagnificationFactor": "1.75"},
            (0.04, 0.04),
            "ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor 1.75",
        ),
        # anisotropic detector: row and column kept apart
        ({"ImagerPixelSpacing": ["0.05", "0.1"]}, (0.05, 0.1), "ImagerPixelSpacing"),
        # a non-DX object (secondary capture) with only Pixel Spacing
        ({"PixelSpacing": ["0.2", "0.2"]}, (0.2, 0.2), "PixelSpacing"),
    ],
)
def test_spacing_rules(attrs, expected, source):
    spacing = dicom_spacing(_ds(**attrs))
    assert spacing.pair == pytest.approx(expected)
    assert spacing.source == source


def test_no_spacing_is_none():
    assert dicom_spacing(_ds(Modality="MG")) is None


@pytest.mark.parametrize(
    "attrs, expected",
    [
        # an unusable Imager Pixel Spacing is absent: the usable Pixel Spacing is taken
        ({"ImagerPixelSpacing": ["0.07", "0"], "PixelSpacing": ["0.1", "0.1"]}, (0.1, 0.1)),
        # one value where two belong: absent, nothing left
        ({"PixelSpacing": "0.07"}, None),
        # not finite
        ({"ImagerPixelSpacing": ["nan", "nan"]}, None),
        # an unusable magnification factor is ignored, the detector spacing stays
        (
            {"ImagerPixelSpacing": ["0.07", "0.07"], "EstimatedRadiographicMagnificationFactor": "0"},
            (0.07, 0.07),
        ),
    ],
)
def test_unusable_attributes_count_as_absent(attrs, expected):
    spacing = dicom_spacing(_ds(**attrs))
    assert (spacing is None) if expected is None else spacing.pair == pytest.approx(expected)


def test_check_and_compare():
    assert check_spacing_mm("0.085", what="x") == 0.085
    with pytest.raises(InputError, match="--spacing: pixel spacing 50 mm is outside"):
        check_spacing_mm(50, what="--spacing")
    assert same_spacing(0.07, 0.0705) and not same_spacing(0.07, 0.065)


def _write(path, *, intent="presentation", spacing=0.085):
    pixels = np.full((300, 260), 1800, dtype=np.uint16)
    return write_mammogram_dicom(
        path,
        pixels,
        DicomSpec(
            seed=1,
            spacing_mm=spacing,
            view="CC",
            laterality="L",
            bits_stored=12,
            window=(1800.0, 800.0),
            intent=intent,
        ),
    )


def test_reader_records_spacing_and_its_source(tmp_path):
    image = read_mammogram(_write(tmp_path / "a.dcm"))
    assert image.meta.pixel_spacing_mm == pytest.approx((0.085, 0.085))
    assert image.meta.spacing_source == "ImagerPixelSpacing"


@pytest.mark.parametrize("force", [False, True])
def test_for_processing_is_refused_naming_presentation_intent_type(tmp_path, force):
    path = _write(tmp_path / "raw.dcm", intent="processing")
    with pytest.raises(InputError) as info:
        read_mammogram(path, force=force)
    message = str(info.value)
    assert (
        message.startswith(str(path)) and "Presentation Intent Type (0008,0068) is FOR PROCESSING" in message
    )
    assert "\n" not in message


def test_for_processing_header(tmp_path):
    import pydicom

    ds = pydicom.dcmread(_write(tmp_path / "raw.dcm", intent="processing"))
    assert ds.SOPClassUID == DM_FOR_PROCESSING and ds.PresentationIntentType == "FOR PROCESSING"
    assert "WindowCenter" not in ds and "VOILUTFunction" not in ds  # PS3.3 A.27.2: no VOI LUT module
