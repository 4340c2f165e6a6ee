"""The MG DICOM writer: header of a DM "For Presentation" image, lossless round trips, VOI variants."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from microcalc.imaging import read_mammogram, to_uint8
from microcalc.imaging.transforms import voi_output_range
from microcalc.synth.dicom_writer import DicomSpec, write_mammogram_dicom
from microcalc.synth.phantom import make_phantom


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=7, rows=1024, cols=832, spacing_mm=0.14, clusters=1, bits_stored=14)


@pytest.fixture(scope="module")
def written(phantom, tmp_path_factory):
    """Write the phantom once per variant name; returns a function name -> path."""
    folder = tmp_path_factory.mktemp("variants")
    cache: dict[str, Path] = {}

    def write(name: str, **kwargs) -> Path:
        if name not in cache:
            cache[name] = write_mammogram_dicom(
                folder / f"{name}.dcm", phantom.stored, DicomSpec.from_truth(phantom.truth, **kwargs)
            )
        return cache[name]

    return write


def test_header_is_a_dm_for_presentation_image(written):
    ds = pydicom.dcmread(written("plain"))
    assert (
        ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.1.2"
        and ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
    )
    assert ds.Modality == "MG" and ds.PresentationIntentType == "FOR PRESENTATION"
    assert (ds.Rows, ds.Columns, ds.BitsAllocated, ds.BitsStored, ds.HighBit) == (1024, 832, 16, 14, 13)
    assert ds.PixelRepresentation == 0 and ds.PhotometricInterpretation == "MONOCHROME2"
    assert [float(v) for v in ds.PixelSpacing] == [0.14, 0.14] == [float(v) for v in ds.ImagerPixelSpacing]
    assert ds.WindowWidth > 0 and ds.VOILUTFunction == "LINEAR"
    assert (ds.ImageLaterality, ds.ViewPosition) == ("L", "CC")
    assert "SYNTHETIC" in str(ds.PatientName) and "SYNTH" in ds.PatientID
    for uid in (ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID):
        assert pydicom.uid.UID(uid).is_valid


def test_uids_follow_the_seed(phantom, written, tmp_path):
    # another window, the same seed: the same UIDs; another seed: others
    spec = DicomSpec.from_truth(phantom.truth, window=(100.0, 50.0))
    again = write_mammogram_dicom(tmp_path / "again.dcm", phantom.stored, spec)
    other = write_mammogram_dicom(tmp_path / "other.dcm", phantom.stored, replace(spec, seed=8))
    a, b, c = (pydicom.dcmread(p) for p in (written("plain"), again, other))
    assert a.StudyInstanceUID == b.StudyInstanceUID and a.SOPInstanceUID == b.SOPInstanceUID
    assert a.StudyInstanceUID != c.StudyInstanceUID
    assert not list(tmp_path.glob(".*.tmp"))  # atomic write leaves no temporary file


@pytest.mark.parametrize(
    "syntax, uid",
    [
        ("rle", "1.2.840.10008.1.2.5"),  # RLE Lossless
        ("jpeg2000", "1.2.840.10008.1.2.4.90"),  # JPEG 2000 Image Compression (Lossless Only)
    ],
)
def test_compressed_variants_decode_to_the_same_pixels(phantom, written, syntax, uid):
    path = written(syntax, transfer_syntax=syntax)
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == uid
    np.testing.assert_array_equal(ds.pixel_array, phantom.stored)
    np.testing.assert_array_equal(read_mammogram(path).pixels, read_mammogram(written("plain")).pixels)


def test_monochrome1_reads_back_as_monochrome2(phantom, written):
    path = written("mono1", photometric="MONOCHROME1")
    ds = pydicom.dcmread(path)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    np.testing.assert_array_equal(ds.pixel_array, 2**14 - 1 - phantom.stored.astype(np.int64))
    mono1, mono2 = read_mammogram(path).pixels, read_mammogram(written("plain")).pixels
    assert np.abs(mono1.astype(int) - mono2).max() <= 1 and (mono1 != mono2).mean() < 0.001


@pytest.mark.parametrize(
    "function",
    [
        "LINEAR",  # C.11.2.1.2.1
        "LINEAR_EXACT",  # C.11.2.1.3.2
        "SIGMOID",  # C.11.2.1.3.1
    ],
)
def test_voi_functions_read_like_pydicom(written, function):
    path = written(f"voi-{function}", voi_function=function)
    ds = pydicom.dcmread(path)
    lo, hi = voi_output_range(ds)
    expected = to_uint8(apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds), value_range=(lo, hi))
    got = read_mammogram(path).pixels
    np.testing.assert_array_equal(got, expected)


def test_window_keeps_specks_bright(phantom, written):
    pixels = read_mammogram(written("plain")).pixels
    calcs = phantom.truth["clusters"][0]["calcifications"]
    values = [int(pixels[int(c["row"]), int(c["col"])]) for c in calcs]
    assert np.median(values) > np.percentile(pixels[phantom.mask], 75)
    assert (pixels[phantom.mask] == 255).mean() < 0.002  # tissue is not saturated


def test_spec_from_truth_is_the_phantom_header(phantom):
    w = phantom.truth["window"]
    expected = DicomSpec(
        seed=7, spacing_mm=0.14, view="CC", laterality="L", bits_stored=14, window=(w["center"], w["width"])
    )
    assert DicomSpec.from_truth(phantom.truth) == expected
    # what a written case's truth records (photometric, VOI function, ...) comes along; fields override
    recorded = dict(phantom.truth, photometric="MONOCHROME1", voi_function="SIGMOID")
    spec = DicomSpec.from_truth(recorded, seed=9)
    assert (spec.photometric, spec.voi_function, spec.seed) == ("MONOCHROME1", "SIGMOID", 9)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("photometric", "RGB"),  # not a mammogram's
        ("voi_function", "LOG"),
        ("transfer_syntax", "jpeg-lossy"),
        ("intent", "raw"),
    ],
)
def test_spec_refuses_an_unknown_value_quoting_it(phantom, field, value):
    with pytest.raises(ValueError, match=repr(value)):
        DicomSpec.from_truth(phantom.truth, **{field: value})
