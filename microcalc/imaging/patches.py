"""Single patches as uint8 gray: the one reader training, export, evaluation and benchmarks share.

Images may be PNG, PGM, TIFF, JPEG, BMP or DICOM, gray or RGB, 8 or 16 bits; everything becomes
uint8 gray ``[H, W]``, the domain the scanner sees. DICOM goes through
:func:`microcalc.imaging.read_mammogram` (Modality LUT, VOI LUT, MONOCHROME1, 8 bits; a patch
need not be an MG object, so the modality check is off), 16-bit rasters through the same
:func:`~microcalc.imaging.transforms.to_uint8`.

Fit policy when a patch is not the model's size:

* ``error``: refuse, naming the file, so nobody trains on silently altered patches;
* ``crop-pad``: centre crop what is larger, zero-pad what is smaller; keeps the pixel scale,
  which matters because microcalcifications are only a few pixels wide;
* ``resize``: bilinear resize to the patch size (changes the pixel scale).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microcalc.errors import InputError

PATCH_SUFFIXES = frozenset({".png", ".pgm", ".tif", ".tiff", ".dcm", ".dicom", ".jpg", ".jpeg", ".bmp"})
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
FIT_POLICIES = ("error", "crop-pad", "resize")


def looks_dicom(path: Path) -> bool:
    """True when the file has the DICOM preamble (PS3.10 7.1: ``DICM`` at byte 128)."""
    with open(path, "rb") as f:
        return f.read(132)[128:132] == b"DICM"


def is_patch_file(path: Path) -> bool:
    """A visible file with a known image suffix, or no suffix and the DICOM preamble (PACS exports)."""
    if path.name.startswith(".") or not path.is_file():
        return False
    return path.suffix.lower() in PATCH_SUFFIXES or (path.suffix == "" and looks_dicom(path))


def read_patch(path: Path) -> np.ndarray:
    """Read one patch as uint8 gray ``[H, W]``; unreadable files raise a one-line ``InputError``."""
    from microcalc.imaging.transforms import to_uint8

    try:
        dicom = path.suffix.lower() in DICOM_SUFFIXES or looks_dicom(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read file ({exc.strerror or exc})") from exc
    if dicom:
        from microcalc.imaging.reader import read_mammogram

        return read_mammogram(path, force=True).pixels
    from microcalc.imaging.reader import raster_pixels

    pixels, _ = raster_pixels(path)
    return pixels if pixels.dtype == np.uint8 else to_uint8(pixels)


def fit_patch(img: np.ndarray, *, size: int, policy: str, path: Path) -> np.ndarray:
    """Bring a ``[H, W]`` uint8 patch to ``[size, size]`` by ``policy`` (see the module docstring)."""
    if policy not in FIT_POLICIES:
        raise ValueError(f"unknown fit policy {policy!r}; expected one of {', '.join(FIT_POLICIES)}")
    h, w = img.shape
    if (h, w) == (size, size):
        return img
    if policy == "error":
        raise InputError(
            f"{path}: patch is {w}x{h} but the patch size is {size}x{size} "
            "(--fit crop-pad or --fit resize adapts it)"
        )
    if policy == "resize":
        from PIL import Image

        return np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR), dtype=np.uint8)
    out = np.zeros((size, size), dtype=np.uint8)
    sh, sw = min(h, size), min(w, size)
    y0, x0 = (h - sh) // 2, (w - sw) // 2
    oy, ox = (size - sh) // 2, (size - sw) // 2
    out[oy : oy + sh, ox : ox + sw] = img[y0 : y0 + sh, x0 : x0 + sw]
    return out
