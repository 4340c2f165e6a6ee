"""Hostile header values the fuzzer found or targets: each is one InputError naming the element, or a read.

Before these checks, text in Window Center/Width reached pydicom's windowing as ``str``
(TypeError), a single Pixel Spacing value broke ``len()``, an empty Transfer Syntax UID had no
``is_compressed``, and a corrupt JPEG 2000 SIZ marker made the decoder allocate 1.6 Gpixel.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fuzz import make_seeds
from mutate import set_field

from microcalc.errors import InputError
from microcalc.imaging import read_mammogram


@pytest.fixture(scope="module")
def seed_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return {p.name.split("-")[1]: p.read_bytes() for p in make_seeds(tmp_path_factory.mktemp("seeds"))}


def _read(tmp_path: Path, data: bytes):
    path = tmp_path / "hostile.dcm"
    path.write_bytes(data)
    return path, lambda: read_mammogram(path, force=True)


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("WindowWidth", "\x8a088", "WindowWidth (0028,1051) is not a number"),  # fuzz: TypeError in pydicom
        ("WindowCenter", "810~", "WindowCenter (0028,1050) is not a number"),  # fuzz: str -= float
        ("WindowCenter", "nan", "WindowCenter (0028,1050) is not a finite number"),
        ("RescaleSlope", "inf", "RescaleSlope (0028,1053) is not a finite number"),
        ("RescaleIntercept", "abc", "RescaleIntercept (0028,1052) is not a number"),
        ("NumberOfFrames", "1.5", "NumberOfFrames (0028,0008) is not an integer"),
        ("NumberOfFrames", "1\\2", "NumberOfFrames (0028,0008) holds 2 values"),
        ("NumberOfFrames", "3", "only single-frame"),
        ("TransferSyntaxUID", "", "no Transfer Syntax UID"),  # fuzz: AttributeError
        ("TransferSyntaxUID", "1.2.3.4", "is not a transfer syntax"),
        ("Rows", 0, "absurd image dimensions"),
    ],
)
def test_hostile_value_is_one_line_naming_the_element(seed_files, tmp_path, field, value, message):
    path, read = _read(tmp_path, set_field(seed_files["explicit"], field, value))
    with pytest.raises(InputError, match=re.escape(message)) as error:
        read()
    assert str(error.value).startswith(f"{path}: ") and "\n" not in str(error.value)


@pytest.mark.parametrize(
    "field, value",
    [
        ("PixelSpacing", "0.07"),  # fuzz: one value where two belong (TypeError: DSfloat has no len())
        ("PixelSpacing", "-1\\1"),  # negative
        ("PixelSpacing", "nan\\nan"),  # not finite
    ],
)
def test_unusable_pixel_spacing_is_treated_as_absent(seed_files, tmp_path, field, value):
    data = set_field(set_field(seed_files["explicit"], field, value), "ImagerPixelSpacing", "")
    _, read = _read(tmp_path, data)
    assert read().meta.pixel_spacing_mm is None


def test_blank_window_is_no_window(seed_files, tmp_path):
    # fuzz: a blank Window Center stayed a str in the data set and broke pydicom's windowing
    _, read = _read(tmp_path, set_field(seed_files["explicit"], "WindowCenter", " "))
    assert read().pixels.shape == (256, 256)


def test_jpeg2000_codestream_larger_than_the_header_is_refused_before_decoding(seed_files, tmp_path):
    data = bytearray(seed_files["jpeg2000"])
    siz = data.find(b"\xff\x4f\xff\x51")
    data[siz + 8 : siz + 12] = (6291712).to_bytes(4, "big")  # Xsiz: 6 million columns
    _, read = _read(tmp_path, bytes(data))
    with pytest.raises(
        InputError, match="JPEG 2000 codestream is 256x6291712, but Rows x Columns say 256x256"
    ):
        read()
