"""Atomic file writes: a temporary file beside the target, renamed over it only once complete.

A reader (a scanner watching an output folder, a resumed training run, a PACS bridge) never sees
a half-written file, and a failure at any point leaves neither the new file nor a temporary one.
The rename is atomic because the temporary file sits in the target's folder (same file system).
Every writer in microcalc goes through :func:`atomic_path`; the text, bytes and JSON helpers
cover the common cases, and :func:`staging_dir` / :func:`commit_dir` do the same for a whole
folder (a model bundle). Standard library only: the engine imports it.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from microcalc.errors import InputError


@contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o644, durable: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` when the block succeeds.

    The temporary name is ``.<name>.<random>.tmp``: writers that guess a format from the suffix
    (PIL, matplotlib) must be given the format. ``mode`` is applied because ``mkstemp`` creates
    0600 files and outputs are meant to be read by other users. The parent folder is created.
    With ``durable`` the data and the rename are flushed to disk (``fsync`` of the file and of its
    folder) before the block's exit returns, so the file survives a crash or power loss from then
    on: what a server needs before it acknowledges a received object.

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
        if durable:
            _fsync(tmp, os.O_RDONLY)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # still there only when the block or the rename failed
    if durable:
        fsync_dir(path.parent)


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Flush a folder's entries (a rename or unlink in it) to disk."""
    _fsync(Path(folder), os.O_RDONLY)


def write_atomic(
    path: str | os.PathLike, write: Callable[[BinaryIO], None], *, durable: bool = False
) -> None:
    """Call ``write(file)`` on a binary file that becomes ``path`` atomically (for writers that take a
    file object, such as ``pyarrow.parquet.write_table`` or ``Dataset.save_as``)."""
    with atomic_path(path, durable=durable) as tmp, open(tmp, "wb") as f:
        write(f)


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


def ensure_output_dir(path: Path) -> None:
    """Create an output folder (and parents) up front, so a bad --out is one line before any work."""
    from microcalc.errors import InputError

    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{path}: cannot create the output folder ({exc.strerror or exc})") from exc


def staging_dir(target: str | os.PathLike) -> Path:
    """A fresh temporary folder next to ``target`` (same file system, so the final rename is atomic).

    Raises:
        InputError: the parent folder cannot be created or written.
    """
    target = Path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent))
        staging.chmod(0o755)
        return staging
    except OSError as exc:
        raise InputError(f"{target}: cannot write the output folder ({exc.strerror or exc})") from exc


def commit_dir(staging: Path, target: str | os.PathLike, *, marker: str) -> None:
    """Replace ``target`` with the finished ``staging`` folder (:func:`staging_dir`).

    An existing folder is moved aside first and removed only after the new one is in place, so a
    failure at any point leaves either the old folder or the new one, never a mix. A non-empty
    ``target`` without the file ``marker`` (a bundle's ``bundle.json``) is somebody else's folder
    and is never replaced.
    """
    target = Path(target)
    old = None
    if target.exists():
        if not (target / marker).is_file() and any(target.iterdir()):
            raise InputError(f"{target}: exists and is not a model bundle; refusing to replace it")
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.replace(target, old)
    try:
        os.replace(staging, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
