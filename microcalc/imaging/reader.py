"""``read_mammogram``: DICOM (any transfer syntax with its plugin), PNG, PGM or TIFF -> :class:`Mammogram`.

Every problem with the input raises :class:`~microcalc.errors.InputError` with one line that
names the file: not an image, no Pixel Data, a missing decoder plugin (with the pip package to
install), not a mammogram (unless ``force``), a "For Processing" image (always: its raw detector
values are not the processed image the model reads), a malformed pixel spacing, too small,
absurd dimensions, truncated pixel data.
Header checks run before any pixel data is decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import get_decoder

from microcalc.errors import InputError, is_foreign_panic, one_line
from microcalc.imaging.header import (
    Header,
    check_codestream_size,
    checked_header,
    convert_all,
    evidence_header,
)
from microcalc.imaging.transforms import present, to_uint8
from microcalc.imaging.types import ImageMeta, Mammogram

MAX_SIDE = 20000
MAX_PIXELS = 400_000_000

# PS3.4 B.5 Storage SOP Classes for mammography.
MAMMOGRAPHY_SOP_CLASSES = {
    "1.2.840.10008.5.1.4.1.1.1.2": "Digital Mammography X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.1.2.1": "Digital Mammography X-Ray Image Storage - For Processing",
    "1.2.840.10008.5.1.4.1.1.13.1.3": "Breast Tomosynthesis Image Storage",
    "1.2.840.10008.5.1.4.1.1.13.1.4": "Breast Projection X-Ray Image Storage - For Presentation",
    "1.2.840.10008.5.1.4.1.1.13.1.5": "Breast Projection X-Ray Image Storage - For Processing",
}

# PS3.4 B.5 "For Processing" classes: images before the vendor's presentation processing.
FOR_PROCESSING_SOP_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.1.1.1",  # Digital X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.1.2.1",  # Digital Mammography X-Ray Image Storage - For Processing
        "1.2.840.10008.5.1.4.1.1.13.1.5",  # Breast Projection X-Ray Image Storage - For Processing
    }
)

# Transfer syntax name fragment -> the pip package whose pydicom plugin decodes it.
_DECODER_PACKAGES = (
    ("JPEG 2000", "pylibjpeg-openjpeg"),
    ("HTJ2K", "pylibjpeg-openjpeg"),
    ("JPEG-LS", "pyjpegls"),
    ("JPEG", "pylibjpeg-libjpeg"),
    ("RLE", "pylibjpeg-rle"),
)

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*")
# Netpbm greymaps (mini-MIAS, converted DDSM): binary P5 and plain P2, 8 or 16 bit; the magic is
# followed by whitespace.
_PGM_MAGICS = (b"P5", b"P2")


def is_raster(head: bytes) -> bool:
    """Whether a file's first bytes are a PNG, TIFF or PGM signature (the rasters Pillow reads here)."""
    pgm = head[:2] in _PGM_MAGICS and head[2:3].isspace()
    return head.startswith(_PNG_MAGIC) or head[:4] in _TIFF_MAGICS or pgm


def read_mammogram(path: str | Path, *, force: bool = False, min_side: int = 0) -> Mammogram:
    """Read one mammogram as uint8 pixels in its original grid plus non-identifying metadata.

    DICOM goes through Modality LUT -> VOI LUT -> MONOCHROME1 inversion -> ``to_uint8``
    (:func:`microcalc.imaging.transforms.present`). 8-bit PNG/TIFF are taken as they are;
    16-bit ones get ``to_uint8``'s breast min-max; they carry no pixel spacing.

    Args:
        path: the file.
        force: read DICOM whose Modality is not MG and whose SOP class is not a mammography one.
        min_side: refuse images whose shorter side is below this many pixels (e.g. one patch).
    """
    path = Path(path)
    try:
        with path.open("rb") as fh:
            head = fh.read(132)
    except OSError as e:
        raise InputError(f"{path}: cannot read file ({e.strerror or e})") from e
    if is_raster(head):
        return _read_raster(path, min_side=min_side)
    return _read_dicom(path, force=force, min_side=min_side)


def _check_size(path: Path, rows: int, cols: int, *, min_side: int) -> None:
    if rows <= 0 or cols <= 0 or rows > MAX_SIDE or cols > MAX_SIDE or rows * cols > MAX_PIXELS:
        raise InputError(
            f"{path}: absurd image dimensions {rows}x{cols} "
            f"(at most {MAX_SIDE} px a side and {MAX_PIXELS // 1_000_000} Mpixel)"
        )
    if min(rows, cols) < min_side:
        raise InputError(f"{path}: image {rows}x{cols} is smaller than the minimum side of {min_side} px")


def raster_pixels(path: Path) -> tuple[np.ndarray, str]:
    """A PNG/PGM/TIFF/JPEG/BMP file's grey pixels (16-bit kept as read, colour as luminance) and its
    Pillow format: the one raster decoding that mammograms and training patches share."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            kind = str(im.format)
            if im.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                return np.asarray(im), kind
            return np.asarray(im.convert("L"), dtype=np.uint8).copy(), kind
    except (OSError, UnidentifiedImageError, ValueError) as e:
        raise InputError(f"{path}: unreadable {path.suffix or 'image'} file ({e})") from e


def _read_raster(path: Path, *, min_side: int) -> Mammogram:
    arr, kind = raster_pixels(path)
    if arr.ndim != 2:
        raise InputError(f"{path}: expected a single-channel image, got shape {arr.shape}")
    rows, cols = arr.shape
    _check_size(path, rows, cols, min_side=min_side)
    meta = ImageMeta(
        path=str(path),
        sop_instance_uid=None,
        modality=None,
        laterality=None,
        view=None,
        rows=rows,
        cols=cols,
        pixel_spacing_mm=None,
        photometric="MONOCHROME2",
        transfer_syntax=kind,
    )
    return Mammogram(pixels=to_uint8(arr), meta=meta)


def _read_dicom(path: Path, *, force: bool, min_side: int) -> Mammogram:
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as e:
        raise InputError(f"{path}: not a DICOM, PNG, PGM or TIFF file") from e
    except Exception as e:  # pydicom parsing untrusted bytes (zlib, struct, ...): any failure is the file's
        raise InputError(f"{path}: unreadable DICOM file ({one_line(e)})") from e
    convert_all(path, ds)
    if not ds.get("PixelData"):
        raise InputError(f"{path}: DICOM file has no Pixel Data (7FE0,0010)")
    _check_kind(path, ds, force=force)
    header = checked_header(path, ds)
    rows, cols = header.rows, header.cols
    _check_size(path, rows, cols, min_side=min_side)
    if header.samples_per_pixel != 1 or header.frames != 1:
        raise InputError(
            f"{path}: only single-frame grayscale images are supported "
            f"(Samples per Pixel {header.samples_per_pixel}, Number of Frames {header.frames})"
        )
    ts = _transfer_syntax(path, ds)
    if ts.is_compressed:
        _check_decoder(path, ts)
        if "JPEG 2000" in ts.name:
            check_codestream_size(path, ds, rows=rows, cols=cols)
    else:
        _check_length(path, ds, rows, cols, bits=header.bits_allocated)
    stored = _decode(path, ds, ts)
    if stored.shape != (rows, cols):
        raise InputError(
            f"{path}: the decoded pixel data has shape {stored.shape}, not the header's {rows}x{cols}"
        )
    return Mammogram(pixels=present(stored, ds), meta=_meta(path, ds, header, ts), header=evidence_header(ds))


def _transfer_syntax(path: Path, ds: Dataset) -> pydicom.uid.UID:
    """The file's Transfer Syntax UID, refused in one line unless it names a transfer syntax."""
    try:
        raw = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    except Exception as e:  # pydicom converting untrusted bytes
        raise InputError(f"{path}: unreadable Transfer Syntax UID (0002,0010) ({one_line(e)})") from e
    text = str(raw or "").strip("\0 ")
    if not text:
        raise InputError(f"{path}: DICOM file has no Transfer Syntax UID (0002,0010)")
    ts = pydicom.uid.UID(text)
    if not ts.is_transfer_syntax:
        raise InputError(f"{path}: Transfer Syntax UID (0002,0010) {text[:64]!r} is not a transfer syntax")
    return ts


def _decode(path: Path, ds: Dataset, ts: pydicom.uid.UID) -> np.ndarray:
    """``ds.pixel_array``; whatever a decoder raises on corrupt data becomes one ``InputError``.

    Decoders are foreign code fed untrusted bytes: they raise any ``Exception`` type, and the
    Rust ones (pylibjpeg-rle) panic with pyo3's ``PanicException``, a ``BaseException``. Both are
    the file's fault here. Interrupts and exits pass. A decoder that hangs or kills its process
    needs :class:`~microcalc.imaging.isolated.IsolatedReader`.
    """
    try:
        return ds.pixel_array
    except Exception as e:  # a foreign decoder fed untrusted bytes: any type is the file's fault
        raise InputError(f"{path}: cannot decode pixel data ({_decoder_name(ts)}): {one_line(e)}") from e
    except BaseException as e:
        if not is_foreign_panic(e):
            raise
        raise InputError(f"{path}: the {_decoder_name(ts)} panicked: {one_line(e)}") from e


def _decoder_name(ts: pydicom.uid.UID) -> str:
    try:
        plugins = get_decoder(ts).available_plugins
    except NotImplementedError:
        plugins = ()
    return f"{ts.name} decoder" + (f" ({', '.join(plugins)})" if plugins else "")


def is_mammogram(ds: Dataset) -> bool:
    """Whether a header is a mammogram: Modality MG or a mammography SOP class (PS3.4 B.5)."""
    modality = str(ds.get("Modality", "") or "")
    return modality.upper() == "MG" or str(ds.get("SOPClassUID", "") or "") in MAMMOGRAPHY_SOP_CLASSES


def _check_kind(path: Path, ds: Dataset, *, force: bool) -> None:
    _check_intent(path, ds)
    if force or is_mammogram(ds):
        return
    modality = str(ds.get("Modality", "") or "")
    sop_class = str(ds.get("SOPClassUID", "") or "")
    raise InputError(
        f"{path}: not a mammogram (Modality {modality or 'absent'!s}, SOP Class "
        f"{sop_class or 'absent'}); use --force to read it anyway"
    )


def _check_intent(path: Path, ds: Dataset) -> None:
    """Refuse "For Processing" images (PS3.3 C.8.11.1.1.1), with or without ``force``: their raw
    detector values have no VOI LUT and none of the vendor's processing the model was trained on."""
    intent = str(ds.get("PresentationIntentType", "") or "").strip().upper()
    if intent == "FOR PROCESSING" or str(ds.get("SOPClassUID", "") or "") in FOR_PROCESSING_SOP_CLASSES:
        raise InputError(
            f"{path}: Presentation Intent Type (0008,0068) is FOR PROCESSING (raw detector data, "
            "not the vendor-processed image the model reads); scan the FOR PRESENTATION image"
        )


def _check_decoder(path: Path, ts: pydicom.uid.UID) -> None:
    try:
        decoder = get_decoder(ts)
    except NotImplementedError as e:
        raise InputError(f"{path}: transfer syntax {ts.name} ({ts}) is not supported") from e
    if decoder.is_available:
        return
    package = next((pkg for fragment, pkg in _DECODER_PACKAGES if fragment in ts.name), None)
    hint = f"pip install {package}" if package else "install a pydicom decoding plugin for it"
    raise InputError(f"{path}: no decoder for {ts.name} ({ts}) is installed: {hint}")


def _check_length(path: Path, ds: Dataset, rows: int, cols: int, *, bits: int) -> None:
    expected = (rows * cols * bits + 7) // 8
    got = len(ds.PixelData)
    if got < expected:
        raise InputError(
            f"{path}: truncated pixel data ({got} bytes, {rows}x{cols} at {bits} bits needs {expected})"
        )


def _meta(path: Path, ds: Dataset, header: Header, ts: pydicom.uid.UID) -> ImageMeta:
    laterality = ds.get("ImageLaterality") or ds.get("Laterality") or None
    return ImageMeta(
        path=str(path),
        sop_instance_uid=str(ds.SOPInstanceUID) if ds.get("SOPInstanceUID") else None,
        modality=str(ds.Modality) if ds.get("Modality") else None,
        laterality=str(laterality) if laterality else None,
        view=str(ds.ViewPosition) if ds.get("ViewPosition") else None,
        rows=header.rows,
        cols=header.cols,
        pixel_spacing_mm=header.spacing.pair if header.spacing is not None else None,
        photometric=str(ds.PhotometricInterpretation) if ds.get("PhotometricInterpretation") else None,
        transfer_syntax=str(ts),
        spacing_source=header.spacing.source if header.spacing is not None else None,
    )
