"""read_mammogram: metadata, rasters, and every InputError case (one line naming the file)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image

from microcalc.errors import InputError
from microcalc.imaging import read_mammogram
from microcalc.imaging import reader as reader_module
from microcalc.synth.dicom_writer import DicomSpec, write_mammogram_dicom
from microcalc.synth.phantom import make_phantom

SEED = 5


@pytest.fixture(scope="module")
def phantom():
    return make_phantom(seed=SEED, rows=512, cols=416, spacing_mm=0.28, clusters=1, isolated=2)


def _write(phantom, path: Path, **kwargs) -> Path:
    w = phantom.truth["window"]
    args = {
        "seed": SEED,
        "spacing_mm": 0.28,
        "view": "MLO",
        "laterality": "R",
        "bits_stored": 12,
        "window": (w["center"], w["width"]),
    }
    args.update(kwargs)
    return write_mammogram_dicom(path, phantom.stored, DicomSpec(**args))


@pytest.fixture(scope="module")
def dicom_path(phantom, tmp_path_factory) -> Path:
    return _write(phantom, tmp_path_factory.mktemp("dcm") / "mammo.dcm")


def test_reads_pixels_and_safe_metadata(dicom_path):
    m = read_mammogram(dicom_path)
    assert m.pixels.dtype == np.uint8 and m.pixels.shape == (512, 416) and m.pixels.flags.c_contiguous
    meta = m.meta
    assert (meta.modality, meta.laterality, meta.view) == ("MG", "R", "MLO")
    assert meta.pixel_spacing_mm == (0.28, 0.28)
    assert meta.photometric == "MONOCHROME2" and meta.transfer_syntax == "1.2.840.10008.1.2.1"
    assert meta.sop_instance_uid == pydicom.dcmread(dicom_path).SOPInstanceUID
    assert "SYNTHETIC" not in repr(meta) and "MICROCALC-SYNTH" not in repr(meta)  # no patient identity


def test_laterality_falls_back_to_series_laterality(dicom_path, tmp_path):
    ds = pydicom.dcmread(dicom_path)
    del ds.ImageLaterality
    ds.Laterality = "L"
    del ds.ImagerPixelSpacing
    ds.PixelSpacing = ["0.1", "0.2"]
    ds.save_as(tmp_path / "fallback.dcm")
    meta = read_mammogram(tmp_path / "fallback.dcm").meta
    assert meta.laterality == "L" and meta.pixel_spacing_mm == (0.1, 0.2)


@pytest.mark.parametrize(
    "mode, suffix, dtype",
    [
        ("L", ".png", np.uint8),  # 8-bit patch: taken as is
        ("I;16", ".png", np.uint16),  # 16-bit PNG: breast min-max to 8 bits
        ("L", ".tif", np.uint8),  # TIFF
    ],
)
def test_reads_rasters_without_spacing(tmp_path, mode, suffix, dtype):
    arr = (np.arange(64 * 48).reshape(64, 48) % 251).astype(dtype) * (200 if dtype == np.uint16 else 1)
    path = tmp_path / f"img{suffix}"
    Image.fromarray(arr).save(path)
    m = read_mammogram(path)
    assert m.pixels.dtype == np.uint8 and m.pixels.shape == (64, 48)
    assert m.meta.pixel_spacing_mm is None and m.meta.sop_instance_uid is None
    if dtype == np.uint8:
        np.testing.assert_array_equal(m.pixels, arr)
    else:
        assert m.pixels.max() == 255


def _broken(kind: str, dicom_path: Path, tmp: Path, monkeypatch) -> Path:
    path = tmp / f"{kind}.dcm"
    if kind == "text":
        path.write_text("not an image\n")
        return path
    if kind == "missing":
        return tmp / "does-not-exist.dcm"
    if kind == "truncated":
        data = dicom_path.read_bytes()
        path.write_bytes(data[: len(data) - 5000])
        return path
    ds = pydicom.dcmread(dicom_path)
    if kind == "nopixels":
        del ds.PixelData
    elif kind in ("ct", "ct_forced"):
        ds.Modality, ds.SOPClassUID = "CT", "1.2.840.10008.5.1.4.1.1.2"
    elif kind == "absurd":
        ds.Rows = 30000
    elif kind == "noplugin":
        ds.compress(pydicom.uid.RLELossless, encoding_plugin="pylibjpeg")

        class _NoDecoder:
            is_available = False

        monkeypatch.setattr(reader_module, "get_decoder", lambda ts: _NoDecoder())
    ds.save_as(path)
    return path


@pytest.mark.parametrize(
    "kind, kwargs, message",
    [
        ("text", {}, "not a DICOM, PNG, PGM or TIFF file"),  # plain text
        ("missing", {}, "cannot read file"),  # no such file
        ("nopixels", {}, "no Pixel Data"),  # header only
        ("noplugin", {}, "pip install pylibjpeg-rle"),  # decoder plugin missing (simulated)
        ("ct", {}, "not a mammogram"),  # CT modality and SOP class
        ("absurd", {}, "absurd image dimensions"),  # Rows 30000
        ("truncated", {}, "truncated pixel data"),  # file cut short
        ("nopixels", {"min_side": 10}, "no Pixel Data"),  # checks run in a fixed order
    ],
)
def test_input_errors_are_one_line_naming_the_file(kind, kwargs, message, dicom_path, tmp_path, monkeypatch):
    path = _broken(kind, dicom_path, tmp_path, monkeypatch)
    with pytest.raises(InputError) as info:
        read_mammogram(path, **kwargs)
    text = str(info.value)
    assert message in text and str(path) in text and "\n" not in text


def test_too_small_is_refused(dicom_path):
    with pytest.raises(InputError, match="smaller than the minimum side of 674 px"):
        read_mammogram(dicom_path, min_side=674)
    assert read_mammogram(dicom_path, min_side=416).meta.cols == 416  # exactly the minimum is fine


def test_force_reads_a_non_mammogram(dicom_path, tmp_path, monkeypatch):
    path = _broken("ct_forced", dicom_path, tmp_path, monkeypatch)
    assert read_mammogram(path, force=True).meta.modality == "CT"
