"""The numeric header fields a mammogram is read with, checked before they are used.

A hostile or corrupt file can hold anything in these elements: text where a number belongs
(pydicom keeps an invalid DS as a ``str``), several values where one is allowed, NaN, or bytes
pydicom cannot convert at all. :func:`checked_header` reads each field once, refuses the file
with one line naming the element (PS3.6 tag) and the value, and writes the parsed numbers back
into the data set the reader owns, so that the transforms (pydicom's ``apply_modality_lut`` and
``apply_voi_lut``) only ever see numbers. Fields that are absent stay absent.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path

from pydicom.dataset import Dataset

from microcalc.errors import InputError, one_line
from microcalc.imaging.spacing import PixelSpacing, dicom_spacing

# keyword -> (tag for messages, whether it must be an integer); one value each
_SINGLE = {
    "Rows": ("(0028,0010)", True),
    "Columns": ("(0028,0011)", True),
    "SamplesPerPixel": ("(0028,0002)", True),
    "NumberOfFrames": ("(0028,0008)", True),
    "BitsAllocated": ("(0028,0100)", True),
    "BitsStored": ("(0028,0101)", True),
    "HighBit": ("(0028,0102)", True),
    "PixelRepresentation": ("(0028,0103)", True),
    "RescaleIntercept": ("(0028,1052)", False),
    "RescaleSlope": ("(0028,1053)", False),
}
# keyword -> tag; one or more values each (PS3.3 C.11.2: a window per VOI transform)
_MULTI = {"WindowCenter": "(0028,1050)", "WindowWidth": "(0028,1051)"}
# keyword -> tag; one code string each (pydicom's windowing calls VOILUTFunction.upper())
_TEXT = {"VOILUTFunction": "(0028,1056)", "PhotometricInterpretation": "(0028,0004)"}


@dataclass(frozen=True)
class Header:
    """What the reader needs from the header, as checked numbers (``None``: absent)."""

    rows: int
    cols: int
    samples_per_pixel: int
    frames: int
    bits_allocated: int
    spacing: PixelSpacing | None


_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def evidence_header(ds: Dataset) -> Dataset:
    """The header an SR and an overview need from a read (already converted) data set: every public
    element except pixel data and binary values (PS3.5 6.2), sequences included, file meta too.

    Built in the reader, so inside the isolated decoder process; the main process gets it with the
    pixels (:attr:`~microcalc.imaging.types.Mammogram.header`) and never parses the file itself.
    """
    header = Dataset()
    for element in ds:
        if not element.tag.is_private and element.VR not in _BINARY_VRS and element.tag < 0x7FE00000:
            header.add(element)
    if getattr(ds, "file_meta", None) is not None:
        header.file_meta = ds.file_meta
    return header


def convert_all(path: Path, ds: Dataset) -> None:
    """Make pydicom convert every element's bytes now, where a failure is the file's fault.

    pydicom converts an element when it is first read; done lazily, a hostile value would raise
    from whatever code reads it first (ours or pydicom's transforms) as if it were a bug there.
    """
    for dataset in (getattr(ds, "file_meta", None), ds):
        for tag in () if dataset is None else list(dataset.keys()):
            try:
                dataset[tag]  # item access converts the raw element
            except Exception as e:  # pydicom converting untrusted bytes
                raise InputError(f"{path}: unreadable header element {tag} ({one_line(e)})") from e


def checked_header(path: Path, ds: Dataset) -> Header:
    """Check and normalise the numeric fields of ``ds`` in place; refuse the file if one is unusable.

    Spacing attributes that are not two positive finite numbers are treated as absent rather than
    trusted (:func:`~microcalc.imaging.spacing.dicom_spacing`: the image is scanned as if at the
    model's spacing, and its report says so).
    """
    values: dict[str, float | int | None] = {}
    for keyword, (tag, integer) in _SINGLE.items():
        numbers = _numbers(path, ds, keyword, tag, integer=integer)
        if numbers is not None and len(numbers) != 1:
            raise InputError(f"{path}: {keyword} {tag} holds {len(numbers)} values, expected one")
        values[keyword] = None if numbers is None else numbers[0]
        _store(path, ds, keyword, tag, None if numbers is None else numbers[0])
    for keyword, tag in _MULTI.items():
        numbers = _numbers(path, ds, keyword, tag, integer=False)
        _store(path, ds, keyword, tag, numbers if numbers is None or len(numbers) > 1 else numbers[0])
    for keyword, tag in _TEXT.items():
        value = ds.get(keyword)
        if value is not None and not isinstance(value, str):
            raise InputError(f"{path}: {keyword} {tag} holds {_count(value)} values, expected one")
    if (ds.get("WindowCenter") is None) != (ds.get("WindowWidth") is None):
        for keyword in _MULTI:  # half a window is no window (PS3.3 C.11.2.1.2: both or neither)
            if keyword in ds:
                del ds[keyword]
    return Header(
        rows=int(values["Rows"] or 0),
        cols=int(values["Columns"] or 0),
        samples_per_pixel=int(1 if values["SamplesPerPixel"] is None else values["SamplesPerPixel"]),
        frames=int(1 if values["NumberOfFrames"] is None else values["NumberOfFrames"]),
        bits_allocated=int(16 if values["BitsAllocated"] is None else values["BitsAllocated"]),
        spacing=dicom_spacing(ds),
    )


def _count(value: object) -> int:
    return len(value) if hasattr(value, "__len__") else 1


def _numbers(path: Path, ds: Dataset, keyword: str, tag: str, *, integer: bool) -> list | None:
    try:
        raw = ds.get(keyword)  # pydicom converts the element's bytes here
    except Exception as e:  # pydicom parsing untrusted bytes: any failure is the file's
        raise InputError(f"{path}: unreadable {keyword} {tag} ({one_line(e)})") from e
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    items = [raw] if isinstance(raw, (str, bytes, int, float)) else list(raw)
    if not items:
        return None
    out = []
    for item in items:
        try:
            number = float(item)
        except (TypeError, ValueError):
            raise InputError(f"{path}: {keyword} {tag} is not a number ({str(item)[:40]!r})") from None
        if not math.isfinite(number) or (integer and number != int(number)):
            kind = "an integer" if integer else "a finite number"
            raise InputError(f"{path}: {keyword} {tag} is not {kind} ({str(item)[:40]!r})")
        out.append(int(number) if integer else number)
    return out


def _store(path: Path, ds: Dataset, keyword: str, tag: str, value: object) -> None:
    """Write the checked value back; an empty element (``value`` None) is removed, so it is absent."""
    try:
        if value is not None:
            setattr(ds, keyword, value)
        elif keyword in ds:
            del ds[keyword]
    except Exception as e:  # pydicom converting to the element's (possibly hostile) VR
        raise InputError(f"{path}: unusable {keyword} {tag} ({one_line(e)})") from e


_J2K_SIZ = b"\xff\x4f\xff\x51"  # start of codestream, then the image and tile size marker (ISO 15444-1 A.5.1)


def check_codestream_size(path: Path, ds: Dataset, *, rows: int, cols: int) -> None:
    """Refuse a JPEG 2000 frame whose own size differs from Rows x Columns, before decoding it.

    The decoder allocates what the codestream's SIZ marker says, not what the DICOM header says:
    a corrupt SIZ can ask for gigabytes and keep the machine paging for a minute before the
    decoder fails. Streams without a SIZ marker near the start are left to the decoder.
    """
    data = ds.PixelData
    at = data.find(_J2K_SIZ, 0, 4096)
    if at < 0 or at + 24 > len(data):
        return
    x_size, y_size, x_offset, y_offset = struct.unpack_from(">IIII", data, at + 8)
    width, height = x_size - x_offset, y_size - y_offset
    if (height, width) != (rows, cols):
        raise InputError(
            f"{path}: the JPEG 2000 codestream is {height}x{width}, but Rows x Columns say {rows}x{cols}"
        )
