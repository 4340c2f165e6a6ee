"""What one peer, or all of them together, may take from ``mc-serve``: disk, bytes in flight, time.

- :class:`SpoolQuota`: before an image is written, the spool (``incoming``, ``outbox``,
  ``failed``) plus the image must stay under ``max_bytes`` and the disk must keep ``min_free``
  bytes free; otherwise C-STORE answers 0xA700 *Out of Resources*, the image is not kept and
  the modality retries later. Nothing already acknowledged is ever removed to make room. Space
  is *reserved* under a lock while an image is written, so concurrent associations cannot
  overshoot the quota together.
- :class:`DatasetLimit`: counts the dataset bytes an association has sent since its last
  complete dataset (its P-DATA-TF fragments, PS3.8 9.3.5) and aborts the association once they
  pass ``max_bytes``: a peer cannot make the node hold an endless dataset in memory.

The association-level limits (concurrent associations, PDU size, ACSE/DIMSE/network timeouts)
are pynetdicom's own, set on the AE by :func:`microcalc.dicomnode.scp.start_scp`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import weakref
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("mc-serve")
_COUNTED = ("incoming", "outbox", "failed")
_LAST_DATASET_FRAGMENT = 0x02  # message control header: bit 0 clear (dataset), bit 1 set (last)


def _folder_bytes(folder: Path) -> int:
    total = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    total += entry.stat().st_size
                except FileNotFoundError:  # moved on by another thread meanwhile
                    continue
    except FileNotFoundError:
        return 0
    return total


class SpoolQuota:
    """The spool's size cap (``max_bytes``, ``None``: none) and the disk's free-space floor."""

    def __init__(self, root: Path, *, max_bytes: int | None, min_free: int) -> None:
        self.root, self.max_bytes, self.min_free = root, max_bytes, min_free
        self._lock = threading.Lock()
        self._reserved = 0

    def used(self) -> int:
        """Bytes the spool holds now (what is reserved for writes in flight not included)."""
        return sum(_folder_bytes(self.root / state) for state in _COUNTED)

    def reserve(self, size: int) -> str | None:
        """Reserve room for ``size`` bytes: ``None`` when granted (call :meth:`release` after the
        write), else why not."""
        with self._lock:
            if self.max_bytes is not None:
                used = self.used() + self._reserved
                if used + size > self.max_bytes:
                    return f"spool quota reached ({used + size} > {self.max_bytes} bytes)"
            free = shutil.disk_usage(self.root).free - self._reserved
            if free - size < self.min_free:
                return f"free disk below the floor ({free - size} < {self.min_free} bytes)"
            self._reserved += size
            return None

    def release(self, size: int) -> None:
        with self._lock:
            self._reserved -= size


class DatasetLimit:
    """An ``EVT_PDU_RECV`` handler that aborts an association sending a dataset over ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._received: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def on_pdu(self, event: Any) -> None:
        items = getattr(event.pdu, "presentation_data_value_items", None)
        if not items:
            return
        assoc = event.assoc
        with self._lock:
            count = self._received.get(assoc, 0)
            for item in items:
                data = item.presentation_data_value or b""
                if data and not data[0] & 0x01:  # a dataset fragment, not a command
                    count += len(data) - 1
                    if data[0] & _LAST_DATASET_FRAGMENT:
                        count = 0
            if count <= self.max_bytes:
                self._received[assoc] = count
                return
            self._received[assoc] = -(2**62)  # abort once
        log.warning(
            "aborting the association of %s: its dataset passed %d bytes",
            assoc.requestor.ae_title.strip(),
            self.max_bytes,
        )
        # the DUL thread runs this handler, and abort() waits for that thread: abort from another
        threading.Thread(target=assoc.abort, name="mc-serve-abort", daemon=True).start()


@dataclass(frozen=True)
class NodeLimits:
    """The SCP's limits on associations, PDUs, datasets and waiting (pynetdicom's timeouts).

    ``acse_timeout_s`` bounds the wait for the A-ASSOCIATE-RQ (and the TLS handshake) after a
    connection opens; ``dimse_timeout_s`` the wait for a DIMSE message; ``network_timeout_s`` an
    idle association, e.g. a peer silent in the middle of a dataset. Its slot frees, and the
    half-received dataset is dropped (never written: the spool only holds complete datasets).
    """

    max_associations: int = 8
    max_pdu: int = 65536
    max_dataset_bytes: int = 512 * 2**20
    acse_timeout_s: float = 10.0
    dimse_timeout_s: float = 30.0
    network_timeout_s: float = 60.0
