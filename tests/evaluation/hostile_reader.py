"""A reader whose decoder hangs on ``hang.dcm`` and crashes its process on ``crash.dcm``; every other
file is read by the real reader. Importable by the isolated reader's decoder process (the test puts
this folder on its PYTHONPATH)."""

from __future__ import annotations

import ctypes
import time
from pathlib import Path

from microcalc.imaging import read_mammogram


def read(path: Path, *, force: bool = False) -> object:
    if path.name == "hang.dcm":
        while True:  # a decoder stuck in a loop
            time.sleep(60)
    if path.name == "crash.dcm":
        ctypes.string_at(0)  # a native decoder reading address 0: SIGSEGV
    return read_mammogram(path, force=force)
