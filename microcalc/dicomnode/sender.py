"""The sending side of ``mc-serve``: SRs (and overviews) in the outbox go to the destination with C-STORE.

The sender retries while the destination is down, backing off from ``first_backoff_s`` to
``max_backoff_s`` (doubling), and marks an SR sent only after the destination answered success
(or a warning: the object was stored). SR UIDs are derived from the scanned image, so an SR sent
again after a crash between "stored" and "marked sent" is the same instance to the PACS.
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

import pydicom

from microcalc.dicomnode.spool import Spool
from microcalc.errors import MicrocalcError
from microcalc.report_sr.codes import MAMMOGRAPHY_CAD_SR_STORAGE, SECONDARY_CAPTURE_STORAGE

log = logging.getLogger("mc-serve")
_DEST = re.compile(r"^(?P<ae>[^@]{1,16})@(?P<host>[^:@]+):(?P<port>[0-9]{1,5})$")


@dataclass(frozen=True)
class Destination:
    """Where SRs go: the PACS's AE title, host and port."""

    ae_title: str
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


def parse_destination(text: str) -> Destination:
    """``AE@HOST:PORT`` -> :class:`Destination`, quoting a malformed value."""
    match = _DEST.match(text.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise MicrocalcError(f"--dest {text!r}: expected AE@HOST:PORT, e.g. ORTHANC@127.0.0.1:4242")
    return Destination(ae_title=match["ae"], host=match["host"], port=int(match["port"]))


class _DestinationDown(Exception):
    """No association, or the destination did not store an SR: retry later."""


class Sender:
    """Sends the outbox until ``stop`` is set; ``wake`` is set when a new SR is queued."""

    def __init__(
        self,
        *,
        spool: Spool,
        dest: Destination,
        ae_title: str,
        stop: threading.Event,
        wake: threading.Event,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.spool, self.dest, self.ae_title = spool, dest, ae_title
        self.stop, self.wake = stop, wake
        self.first_backoff_s, self.max_backoff_s = first_backoff_s, max_backoff_s
        self.tls = tls  # verifies the PACS's certificate and host name (tls.client_context)

    def run(self) -> None:
        backoff = self.first_backoff_s
        while not self.stop.is_set():
            pending = self.spool.outbox()
            if not pending:
                self.wake.wait(0.5)
                self.wake.clear()
                continue
            try:
                self._send(pending)
                backoff = self.first_backoff_s
            except _DestinationDown as exc:
                log.warning(
                    "destination %s: %s; %d SR(s) wait, retry in %.1f s",
                    self.dest,
                    exc,
                    len(pending),
                    backoff,
                )
                self.stop.wait(backoff)
                backoff = min(2 * backoff, self.max_backoff_s)

    def _send(self, paths: list[Path]) -> None:
        from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
        from pynetdicom import AE

        ae = AE(ae_title=self.ae_title)
        for sop_class in (MAMMOGRAPHY_CAD_SR_STORAGE, SECONDARY_CAPTURE_STORAGE):
            ae.add_requested_context(sop_class, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
        tls_args = (self.tls, self.dest.host) if self.tls is not None else None
        assoc = ae.associate(self.dest.host, self.dest.port, ae_title=self.dest.ae_title, tls_args=tls_args)
        if not assoc.is_established:
            raise _DestinationDown("no association")
        try:
            for path in paths:
                if self.stop.is_set():
                    return
                self._send_one(assoc, path)
        finally:
            if assoc.is_established:
                assoc.release()

    def _send_one(self, assoc: object, path: Path) -> None:
        key = path.name.removesuffix(".dcm")  # <image uid> for the SR, <image uid>.overview for the overview
        try:
            document = pydicom.dcmread(path)
        except FileNotFoundError:
            return  # sent and marked by an earlier pass
        status = assoc.send_c_store(document)  # type: ignore[attr-defined]
        code = getattr(status, "Status", None)
        if code is None:
            raise _DestinationDown("the association was lost")
        if code != 0x0000 and not 0xB000 <= code <= 0xBFFF:
            raise _DestinationDown(
                f"{_kind(document)} {document.SOPInstanceUID} for {key} refused with status 0x{code:04X}"
            )
        self.spool.mark_sent(key)
        log.info(
            "sent %s %s for %s to %s",
            _kind(document),
            document.SOPInstanceUID,
            key.split(".overview")[0],
            self.dest,
        )


def _kind(document: pydicom.Dataset) -> str:
    return "SR" if document.SOPClassUID == MAMMOGRAPHY_CAD_SR_STORAGE else "overview"
