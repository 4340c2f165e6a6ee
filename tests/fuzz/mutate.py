"""Mutations of DICOM files for the fuzzer: bytes, truncation, insertion and hostile header values.

Header mutations edit the encoded elements directly (explicit VR little endian, as ``mc-synth``
writes every transfer syntax's data set), so a value can be anything a hostile file may hold:
text where a number belongs, a wrong length, a Transfer Syntax UID that does not match the
pixel data. Everything is drawn from one ``random.Random``, so a seed gives the same mutants.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

_LONG_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"UC", b"UN", b"UR", b"UT"}
_UNDEFINED = 0xFFFFFFFF
_PIXEL_DATA = (0x7FE0, 0x0010)
_US_HOSTILE = (0, 1, 2, 3, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 64, 255, 256, 4096, 32767, 32768, 65535)
_DS_HOSTILE = (
    "0",
    "-0",
    "-1",
    "1e308",
    "-1e308",
    "1e-308",
    "nan",
    "NaN",
    "inf",
    "-inf",
    "abc",
    "",
    " ",
    "1\\2\\3",
    "4095\\",
    "\\",
    "0x10",
    "1e400",
    "99999999999999999999",
    "1.5.2",
)
_UIDS = (
    "1.2.840.10008.1.2",
    "1.2.840.10008.1.2.1",
    "1.2.840.10008.1.2.2",
    "1.2.840.10008.1.2.1.99",
    "1.2.840.10008.1.2.4.50",
    "1.2.840.10008.1.2.4.51",
    "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70",
    "1.2.840.10008.1.2.4.80",
    "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90",
    "1.2.840.10008.1.2.4.91",
    "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.202",
    "1.2.840.10008.1.2.4.203",
    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.100",
    "1.2.3.4",
    "",
    "not-a-uid",
)


@dataclass(frozen=True)
class Field:
    """A header element the fuzzer attacks: its tag, VR and the hostile values to try."""

    tag: tuple[int, int]
    vr: bytes
    values: tuple


FIELDS = {
    "Rows": Field((0x0028, 0x0010), b"US", _US_HOSTILE),
    "Columns": Field((0x0028, 0x0011), b"US", _US_HOSTILE),
    "BitsAllocated": Field((0x0028, 0x0100), b"US", _US_HOSTILE),
    "BitsStored": Field((0x0028, 0x0101), b"US", _US_HOSTILE),
    "HighBit": Field((0x0028, 0x0102), b"US", _US_HOSTILE),
    "PixelRepresentation": Field((0x0028, 0x0103), b"US", (0, 1, 2, 65535)),
    "SamplesPerPixel": Field((0x0028, 0x0002), b"US", (0, 1, 2, 3, 4, 65535)),
    "PlanarConfiguration": Field((0x0028, 0x0006), b"US", (0, 1, 2, 65535)),
    "NumberOfFrames": Field(
        (0x0028, 0x0008),
        b"IS",
        ("0", "-1", "1", "2", "3", "999999999", "2147483648", "abc", "", "1\\2", "1.5"),
    ),
    "PhotometricInterpretation": Field(
        (0x0028, 0x0004),
        b"CS",
        (
            "MONOCHROME1",
            "MONOCHROME2",
            "RGB",
            "PALETTE COLOR",
            "YBR_FULL",
            "YBR_FULL_422",
            "YBR_ICT",
            "MONOCHROME3",
            "",
            "monochrome2",
            "MONOCHROME1\\MONOCHROME2",
        ),
    ),
    "WindowCenter": Field((0x0028, 0x1050), b"DS", _DS_HOSTILE),
    "WindowWidth": Field((0x0028, 0x1051), b"DS", _DS_HOSTILE),
    "VOILUTFunction": Field(
        (0x0028, 0x1056), b"CS", ("LINEAR", "LINEAR_EXACT", "SIGMOID", "", "CUBIC", "sigmoid")
    ),
    "RescaleIntercept": Field((0x0028, 0x1052), b"DS", _DS_HOSTILE),
    "RescaleSlope": Field((0x0028, 0x1053), b"DS", _DS_HOSTILE),
    "PixelSpacing": Field(
        (0x0028, 0x0030),
        b"DS",
        _DS_HOSTILE + ("0\\0", "-1\\1", "nan\\nan", "abc\\def", "1e400\\1", "0.07\\0.07\\0.07"),
    ),
    "ImagerPixelSpacing": Field((0x0018, 0x1164), b"DS", _DS_HOSTILE + ("0\\0", "inf\\inf")),
    "TransferSyntaxUID": Field((0x0002, 0x0010), b"UI", _UIDS),
    "Modality": Field((0x0008, 0x0060), b"CS", ("MG", "CT", "", "mg", "M\\G")),
}


def elements(data: bytes) -> list[tuple[tuple[int, int], int, int, int]]:
    """``(tag, start, value_start, value_end)`` of each top-level element up to Pixel Data.

    Stops at the first thing it cannot walk (a corrupt file is still a fine fuzz seed).
    """
    out = []
    pos = 132 if data[128:132] == b"DICM" else 0
    while pos + 8 <= len(data):
        group, elem = struct.unpack_from("<HH", data, pos)
        vr = data[pos + 4 : pos + 6]
        if vr in _LONG_VRS:
            (length,) = struct.unpack_from("<I", data, pos + 8)
            value = pos + 12
        else:
            (length,) = struct.unpack_from("<H", data, pos + 6)
            value = pos + 8
        if (group, elem) == _PIXEL_DATA:
            out.append(((group, elem), pos, value, len(data)))
            break
        if length == _UNDEFINED:
            end = data.find(b"\xfe\xff\xdd\xe0\x00\x00\x00\x00", value)
            if end < 0:
                break
            out.append(((group, elem), pos, value, end + 8))
            pos = end + 8
            continue
        out.append(((group, elem), pos, value, value + length))
        pos = value + length
    return out


def encode(tag: tuple[int, int], vr: bytes, value: object, *, length: int | None = None) -> bytes:
    """One explicit VR little endian element; ``length`` overrides the true value length (hostile)."""
    if isinstance(value, int):
        raw = struct.pack("<H", value)
    else:
        raw = str(value).encode("latin-1")
        if len(raw) % 2:
            raw += b"\0" if vr == b"UI" else b" "
    size = len(raw) if length is None else length
    if vr in _LONG_VRS:
        return struct.pack("<HH", *tag) + vr + b"\0\0" + struct.pack("<I", size) + raw
    return struct.pack("<HH", *tag) + vr + struct.pack("<H", size & 0xFFFF) + raw


def set_field(data: bytes, name: str, value: object, *, length: int | None = None) -> bytes:
    """``data`` with field ``name`` replaced by (or, when absent, given) ``value``."""
    field = FIELDS[name]
    new = encode(field.tag, field.vr, value, length=length)
    found = elements(data)
    for tag, start, _, end in found:
        if tag == field.tag:
            return data[:start] + new + data[end:]
        if tag > field.tag and (tag[0] == 0x0002) == (field.tag[0] == 0x0002):
            return data[:start] + new + data[start:]
    return data


class Mutator:
    """Draws mutants of seed files; the same ``seed`` gives the same sequence."""

    OPERATIONS = (
        "flip",
        "bits",
        "truncate",
        "insert",
        "delete",
        "duplicate",
        "header",
        "header_length",
        "header_then_flip",
    )

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def mutate(self, data: bytes) -> tuple[str, bytes]:
        """One mutant of ``data`` and a short description of what was done."""
        op = self.rng.choice(self.OPERATIONS)
        if op == "header_then_flip":
            what, out = self._header(data, hostile_length=False)
            what2, out = self._bytes(out, "flip")
            return f"{what}+{what2}", out
        if op.startswith("header"):
            return self._header(data, hostile_length=op == "header_length")
        return self._bytes(data, op)

    def _where(self, data: bytes) -> int:
        # a third of the time in the header, where a few bytes change how everything after is read
        header_end = next((start for tag, start, _, _ in elements(data) if tag == _PIXEL_DATA), len(data))
        limit = header_end + 64 if self.rng.random() < 0.3 else len(data)
        return self.rng.randrange(max(1, min(limit, len(data))))

    def _bytes(self, data: bytes, op: str) -> tuple[str, bytes]:
        rng = self.rng
        out = bytearray(data)
        if op == "flip":
            n = rng.randint(1, 16)
            for _ in range(n):
                out[self._where(data)] = rng.randrange(256)
            return f"flip x{n}", bytes(out)
        if op == "bits":
            n = rng.randint(1, 8)
            for _ in range(n):
                out[self._where(data)] ^= 1 << rng.randrange(8)
            return f"bitflip x{n}", bytes(out)
        at = self._where(data)
        if op == "truncate":
            return f"truncate at {at}", bytes(out[:at])
        size = rng.choice((1, 2, 3, 4, 8, 16, 64, 1024))
        if op == "insert":
            chunk = bytes(rng.randrange(256) for _ in range(size)) if rng.random() < 0.7 else b"\xff" * size
            return f"insert {size} at {at}", bytes(out[:at] + chunk + out[at:])
        if op == "delete":
            return f"delete {size} at {at}", bytes(out[:at] + out[at + size :])
        return f"duplicate {size} at {at}", bytes(out[:at] + out[at : at + size] + out[at:])

    def _header(self, data: bytes, *, hostile_length: bool) -> tuple[str, bytes]:
        rng = self.rng
        name = rng.choice(sorted(FIELDS))
        value = rng.choice(FIELDS[name].values)
        length = None
        if hostile_length:
            length = rng.choice((0, 1, 3, 0xFFFF, 0x7FFF, len(str(value)) + 2))
        return f"{name}={value!r}" + (f" length {length}" if length is not None else ""), set_field(
            data, name, value, length=length
        )
