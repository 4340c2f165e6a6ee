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
    os.write(2, b"thread '<unnamed>' panicked at src/lib.rs:512:24:\nstack backtrace:\n   0: rust_begin_unwind\n")
    raise ValueError("corrupt stream")


def bad_one(path: Path, *, bad: Callable[[Path], object]) -> object:
    """``bad`` for ``bad.dcm``, the real reader for every other file."""
    from microcalc.imaging import read_mammogram

    return bad(path) if path.name == "bad.dcm" else read_mammogram(path)
