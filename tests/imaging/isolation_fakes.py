"""Readers that misbehave like hostile-input decoders, importable by a decoder process.

Tests put this folder on the worker's PYTHONPATH so that ``IsolatedReader`` can pickle them.
"""

from __future__ import annotations

import ctypes
import os
import time
from collections.abc import Callable
from pathlib import Path


def hang(path: Path) -> None:
    """A decoder stuck in a loop: never returns."""
    while True:
        time.sleep(60)


def segfault(path: Path) -> None:
    """A native decoder reading address 0: the process dies of SIGSEGV."""
    ctypes.string_at(0)


def buggy(path: Path) -> None:
    """A bug in the reader itself, not a corrupt file."""
    raise TypeError("unsupported operand type(s) for +: 'int' and 'NoneType'")


def noisy_then_fails(path: Path) -> None:
    """Writes a native-looking backtrace to fd 2, then refuses the file."""
    os.write(
        2, b"thread '<unnamed>' panicked at src/lib.rs:512:24:\nstack backtrace:\n   0: rust_begin_unwind\n"
    )
    raise ValueError("corrupt stream")


def bad_one(path: Path, *, bad: Callable[[Path], object]) -> object:
    """``bad`` for ``bad.dcm``, the real reader for every other file."""
    from microcalc.imaging import read_mammogram

    return bad(path) if path.name == "bad.dcm" else read_mammogram(path)


def large_image(path: Path) -> object:
    """A 2048x1024 image (2 MiB, over the shared-memory threshold) with a known pattern."""
    import numpy as np

    from microcalc.imaging.types import ImageMeta, Mammogram

    pixels = (np.arange(2048 * 1024, dtype=np.uint32) % 251).astype(np.uint8).reshape(2048, 1024)
    meta = ImageMeta(
        path=str(path),
        sop_instance_uid=None,
        modality="MG",
        laterality=None,
        view=None,
        rows=2048,
        cols=1024,
        pixel_spacing_mm=None,
        photometric="MONOCHROME2",
        transfer_syntax=None,
    )
    return Mammogram(pixels=pixels, meta=meta)
