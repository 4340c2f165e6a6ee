"""The decoder process behind :class:`~microcalc.imaging.isolated.IsolatedReader`.

Started as ``python -m microcalc.imaging.decode_worker FD`` with one end of a socket pair. It
receives the read function once (pickled), then paths; it answers each with
``("ok", Mammogram)`` (or ``("shm", ...)``: the pixels in a ``/dev/shm`` file, see :func:`_ok`),
``("input", line)`` for the input's fault or ``("bug", line)`` for an internal error, classified
by :func:`microcalc.errors.read_failure` like an in-process read.

The parent gives it its own environment (``RUST_BACKTRACE=0``) and a private stderr file, so a
native panic's message and backtrace never reach the console. It asks Linux to kill it when the
parent dies, so a decoder stuck in a loop does not outlive the scan.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import os
import signal
import sys
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.errors import MicrocalcError, read_failure

_PR_SET_PDEATHSIG = 1
SHM_DIR = "/dev/shm"
SHM_PREFIX = "mc-decode-"
SHM_MIN_BYTES = 1 << 20


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
    except (OSError, AttributeError):  # not Linux: the parent still kills its workers on close
        pass


def serve(conn: Connection) -> None:
    """Answer read requests on ``conn`` until it closes."""
    read = conn.recv()
    conn.send(("ready", None))
    for seq in itertools.count():
        try:
            path = Path(conn.recv())
        except EOFError:
            return
        try:
            reply = _ok(read(path), seq)
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:  # noqa: BLE001 - every failure is answered, classified
            error = read_failure(path, exc)
            reply = ("input" if isinstance(error, MicrocalcError) else "bug", str(error))
        conn.send(reply)


def _ok(image: Any, seq: int) -> tuple:
    """The reply for a decoded image: its pixels through a file in shared memory when they are large.

    Sent through the socket, a 4096x3328 image is pickled and crosses in ~200 kB pieces, each a
    context switch; written once to ``/dev/shm`` (RAM) it is read back in one copy. Without
    ``/dev/shm`` or room in it, the socket carries the image.
    """
    pixels = getattr(image, "pixels", None)
    if not (
        dataclasses.is_dataclass(image)
        and isinstance(pixels, np.ndarray)
        and pixels.nbytes >= SHM_MIN_BYTES
        and os.path.isdir(SHM_DIR)
    ):
        return ("ok", image)
    name = os.path.join(SHM_DIR, f"{SHM_PREFIX}{os.getpid()}-{seq}")
    try:
        np.ascontiguousarray(pixels).tofile(name)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(name)
        return ("ok", image)
    return ("shm", (dataclasses.replace(image, pixels=None), name, pixels.shape, pixels.dtype.str))


def main() -> None:
    """Entry point of the worker process: ``python -m microcalc.imaging.decode_worker FD``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _die_with_parent()
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
