"""The durable spool of ``mc-serve``: where every acknowledged image and every unsent SR lives.

One folder per state, one file per object, named by the source image's SOP Instance UID (never
by anything that identifies the patient)::

    incoming/<uid>.dcm   received and acknowledged, not yet scanned
    outbox/<uid>.dcm     the image's CAD SR, not yet accepted by the destination
    outbox/<uid>.overview.dcm  its Secondary Capture overview (with ``--send-overview``)
    sent/<uid>[.overview]      marker: the destination accepted that object
    failed/<uid>.dcm     an image that cannot be scanned, with failed/<uid>.txt saying why

Every write is atomic and durable (temporary file, ``fsync``, rename, ``fsync`` of the folder)
before the step that depends on it: an image is on disk before the C-STORE is answered, an SR
is in the outbox before its image leaves ``incoming``, and the ``sent`` marker is on disk
before the SR leaves the outbox. A crash at any point leaves each object in exactly one state
(or, between two steps, in two adjacent ones, resolved on restart by :meth:`Spool.recover`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from microcalc.atomic import fsync_dir, write_atomic
from microcalc.errors import InputError

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
STATES = ("incoming", "outbox", "sent", "failed")


def check_uid(uid: str) -> str:
    """A DICOM UID (digits and dots, at most 64 characters): safe as a file name."""
    uid = str(uid).strip().rstrip("\0")
    if not _UID.match(uid) or len(uid) > 64:
        raise InputError(f"invalid SOP Instance UID {uid!r}")
    return uid


class Spool:
    """The spool folder ``root`` (created if needed); see the module docstring."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        try:
            for state in STATES:
                (self.root / state).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{self.root}: cannot create the spool ({exc.strerror or exc})") from exc

    def path(self, state: str, uid: str) -> Path:
        return self.root / state / (uid if state == "sent" else f"{uid}.dcm")

    def receive(self, uid: str, write: Callable[[BinaryIO], None]) -> Path:
        """Store a received image durably in ``incoming`` (call before acknowledging it)."""
        path = self.path("incoming", check_uid(uid))
        write_atomic(path, write, durable=True)
        return path

    def incoming(self) -> list[Path]:
        """Images waiting to be scanned, oldest first."""
        return _oldest_first(self.root / "incoming", "*.dcm")

    def outbox(self) -> list[Path]:
        """Results waiting to be sent, oldest first."""
        return _oldest_first(self.root / "outbox", "*.dcm")

    def handled(self, uid: str) -> bool:
        """Whether this image already has an SR (queued or sent): a re-sent image is not reported twice."""
        return self.path("outbox", uid).exists() or self.path("sent", uid).exists()

    def stage(self, uid: str, objects: list[tuple[str, Callable[[BinaryIO], None]]]) -> None:
        """Put the image's results in the outbox durably (``objects``: outbox key, writer; the SR,
        keyed by the image's UID, last), then drop the image from ``incoming``."""
        for key, write in objects:
            write_atomic(self.path("outbox", key), write, durable=True)
        self._unlink(self.path("incoming", uid))

    def mark_sent(self, key: str) -> None:
        """Record that the destination accepted an outbox object durably, then drop it from the outbox."""
        write_atomic(self.path("sent", key), lambda f: None, durable=True)
        self._unlink(self.path("outbox", key))

    def fail(self, uid: str, reason: str) -> None:
        """Move an image that cannot be scanned to ``failed`` with a line saying why."""
        write_atomic(
            self.root / "failed" / f"{uid}.txt", lambda f: f.write((reason + "\n").encode()), durable=True
        )
        os.replace(self.path("incoming", uid), self.path("failed", uid))
        fsync_dir(self.root / "incoming")

    def discard(self, uid: str) -> None:
        """Drop a received copy of an image that already has its results (a re-sent image)."""
        self._unlink(self.path("incoming", uid))

    def recover(self) -> list[str]:
        """After a crash: drop images whose SR is already queued or sent; return the UIDs still to scan."""
        todo = []
        for path in self.incoming():
            uid = path.stem
            if self.handled(uid):
                self.discard(uid)
            else:
                todo.append(uid)
        for tmp in (
            self.root / state / name
            for state in STATES
            for name in os.listdir(self.root / state)
            if name.startswith(".") and name.endswith(".tmp")
        ):
            tmp.unlink(missing_ok=True)  # a write the crash interrupted: never acknowledged
        return todo

    @staticmethod
    def _unlink(path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_dir(path.parent)


def _oldest_first(folder: Path, pattern: str) -> list[Path]:
    entries = []
    for path in folder.glob(pattern):
        try:
            entries.append((path.stat().st_mtime_ns, path.name, path))
        except FileNotFoundError:  # moved on by another thread meanwhile
            continue
    return [p for _, _, p in sorted(entries)]
