"""Reading one input inside a scan: a deadline, and which failures are the input's fault.

Whatever a reader raises becomes that input's error, so one hostile file never ends a batch:
:func:`microcalc.errors.read_failure` says whether it is the input's fault (``InputError``) or a
bug in the reader (``InternalError``, e.g. ``AttributeError`` or ``TypeError``); ``SystemExit``
and ``KeyboardInterrupt`` are re-raised, since they end the scan, not one input.

A reader that enforces its own deadline says so with ``abandons_hung_reads = True``
(:class:`~microcalc.imaging.isolated.IsolatedReader` kills its worker process). Any other reader
runs in a helper thread that the scan stops waiting for after ``timeout_s``; a thread cannot be
killed, so a hung in-process decoder is abandoned, still running, and keeps its CPU and memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.errors import InputError, InternalError, read_failure
from microcalc.imaging.types import Mammogram

Reader = Callable[[Path], Mammogram]
"""Reads one input into a :class:`~microcalc.imaging.types.Mammogram` (uint8 ``[rows, cols]`` pixels
and ``meta``): ``read_mammogram`` with its options bound, or an
:class:`~microcalc.imaging.isolated.IsolatedReader` of it."""

_POLL_S = 0.1


def read_checked(
    reader: Reader, path: Path, *, timeout_s: float, stop: threading.Event | None = None
) -> Mammogram:
    """Read one input within ``timeout_s`` and check that the reader kept its promise (uint8 pixels).

    Whether the image holds a tile is judged after resampling, on the grid that is tiled
    (:func:`~microcalc.engine.geometry.to_model_grid`), not here on the grid as read.

    Raises :class:`InputError` or :class:`InternalError` (one line naming the file) for every
    failure but an interrupt or exit; see the module docstring for which is which.
    """
    try:
        if getattr(reader, "abandons_hung_reads", False):
            image = reader(path)
        else:
            image = _call_with_deadline(reader, path, timeout_s=timeout_s, stop=stop)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:  # classified: the input's fault, or a bug in the reader
        error = read_failure(path, exc)
        if error is exc:
            raise
        raise error from exc
    pixels = getattr(image, "pixels", None)
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 2 or pixels.dtype != np.uint8:
        raise InternalError(
            f"{path}: internal error: the reader returned {type(image).__name__} "
            "instead of an image with uint8 [rows, cols] pixels; this is a bug in microcalc"
        )
    return image


class _Call:
    """``fn(arg)`` running in a daemon thread; what it returns or raises is kept for the waiter."""

    def __init__(self, fn: Reader, arg: Path) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.exc: BaseException | None = None
        threading.Thread(target=self._run, args=(fn, arg), daemon=True, name="mc-scan-read").start()

    def _run(self, fn: Reader, arg: Path) -> None:
        try:
            self.value = fn(arg)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, which classifies it
            self.exc = exc
        finally:
            self.done.set()


def _call_with_deadline(reader: Reader, path: Path, *, timeout_s: float, stop: threading.Event | None) -> Any:
    call = _Call(reader, path)
    deadline = time.monotonic() + timeout_s
    while not call.done.wait(min(_POLL_S, max(0.0, deadline - time.monotonic()))):
        if stop is not None and stop.is_set():
            raise InputError(f"{path}: not read: the scan was stopped")
        if time.monotonic() >= deadline:
            raise InputError(
                f"{path}: reading took longer than {timeout_s:g} s and was abandoned (the decode timeout)"
            )
    if call.exc is not None:
        raise call.exc
    return call.value
