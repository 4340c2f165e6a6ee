"""Atomic file writes: a temporary file beside the target, renamed over it only once complete.

A reader (a scanner watching an output folder, a resumed training run, a PACS bridge) never sees
a half-written file, and a failure at any point leaves neither the new file nor a temporary one.
The rename is atomic because the temporary file sits in the target's folder (same file system).
Every writer in microcalc goes through :func:`atomic_path`; the text, bytes and JSON helpers
cover the common cases. Standard library only: the engine imports it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary name is ``.<name>.<random>.tmp``: writers that guess a format from the suffix
    (PIL, matplotlib) must be given the format. ``mode`` is applied because ``mkstemp`` creates
    0600 files and outputs are meant to be read by other users. The parent folder is created.

    Example::

        with atomic_path(out / "overview.png") as tmp:
            image.save(tmp, format="PNG")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        tmp.chmod(mode)
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # still there only when the block or the rename failed


def write_text_atomic(path: str | os.PathLike, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_json_atomic(path: str | os.PathLike, data: Any, *, indent: int = 2) -> None:
    """Write ``data`` as indented JSON (with a final newline) to ``path`` atomically."""
    write_text_atomic(path, json.dumps(data, indent=indent) + "\n")
