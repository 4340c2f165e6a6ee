"""The scanning side of ``mc-serve``: spooled images stream through one loaded backend.

Images are scanned by the same :class:`~microcalc.engine.pipeline.Scanner` as ``mc-scan`` uses,
in the order they arrive: whatever is queued when the scanner is free goes in as one stream
(decoding the next image overlaps the backend's work on the current one). Each result becomes
the JSON report and PNG overview in ``--out`` (named by SOP Instance UID), and its CAD SR goes
(and, with ``--send-overview``, the overview as a Secondary Capture) to the spool's outbox before
the image leaves ``incoming``. An image that cannot be scanned
moves to ``failed`` with its one-line reason; the others go on.
"""

from __future__ import annotations

import logging
import queue
import threading
from functools import partial
from pathlib import Path
from typing import BinaryIO

import pydicom

from microcalc.dicomnode.spool import Spool
from microcalc.engine.pipeline import Scanner
from microcalc.engine.report import RunInfo
from microcalc.engine.results import NotWritten, write_result
from microcalc.engine.scan_result import ScanResult
from microcalc.errors import InputError, MicrocalcError
from microcalc.report_sr.document import build_cad_sr
from microcalc.report_sr.overview import build_overview_sc

log = logging.getLogger("mc-serve")
_MAX_STREAM = 32


def _save(ds: pydicom.Dataset, f: BinaryIO) -> None:
    ds.save_as(f, enforce_file_format=True)


class ScanWorker:
    """Scans what :meth:`submit` queues until ``stop`` is set; sets ``sr_ready`` for each SR staged."""

    def __init__(
        self,
        *,
        spool: Spool,
        scanner: Scanner,
        run: RunInfo,
        out_dir: Path,
        stop: threading.Event,
        sr_ready: threading.Event,
        send_overview: bool = False,
    ) -> None:
        self.spool, self.scanner, self.run_info, self.out_dir = spool, scanner, run, out_dir
        self.send_overview = send_overview
        self.stop, self.sr_ready = stop, sr_ready
        self.queue: queue.Queue[str] = queue.Queue()
        self.failure: BaseException | None = None

    def submit(self, uid: str) -> None:
        self.queue.put(uid)

    def run(self) -> None:
        """The worker thread: on an unexpected error (a bug, a lost device) stop the node; images stay
        spooled."""
        try:
            while not self.stop.is_set():
                uids = self._next_stream()
                if uids:
                    paths = [self.spool.path("incoming", uid) for uid in uids]
                    for result in self.scanner.scan(paths):
                        self._finish(uids[result.index], result)
                        if (
                            self.stop.is_set()
                        ):  # SIGTERM: the rest of the stream stays spooled for the next start
                            break
        except Exception as exc:  # noqa: BLE001 - reported by the CLI, which exits non-zero
            self.failure = exc
            log.error("scanning stopped: %s: %s; unscanned images stay in the spool", type(exc).__name__, exc)
            self.stop.set()

    def _next_stream(self) -> list[str]:
        try:
            first = self.queue.get(timeout=0.2)
        except queue.Empty:
            return []
        uids = [first]
        while len(uids) < _MAX_STREAM:
            try:
                uids.append(self.queue.get_nowait())
            except queue.Empty:
                break
        todo = []
        for uid in dict.fromkeys(uids):  # the same image received twice in a row is scanned once
            if self.spool.handled(uid):
                log.info("%s already has an SR; not reported again", uid)
                self.spool.discard(uid)
            elif self.spool.path("incoming", uid).exists():
                todo.append(uid)
        return todo

    def _finish(self, uid: str, result: ScanResult) -> None:
        if result.error is not None:
            log.warning("cannot scan %s: %s", uid, result.error)
            self.spool.fail(uid, str(result.error))
            return
        try:
            written = write_result(result, self.run_info, out_dir=self.out_dir, stem=uid)
            source = result.image.header
            if source is None:
                raise InputError(f"{uid}: not a DICOM image: no study to file an SR under")
            subject = written.report.sr_subject()
            document = build_cad_sr(source, subject, path=uid)
            objects = [(uid, document)]
            if self.send_overview:
                overview = build_overview_sc(source, written.png, subject, path=uid)
                objects.insert(0, (f"{uid}.overview", overview))
            self.spool.stage(uid, [(key, partial(_save, ds)) for key, ds in objects])
        except NotWritten as exc:  # a full disk: the image stays in incoming and is scanned again on restart
            log.error("cannot write the results of %s (%s); it stays spooled", uid, exc)
            return
        except MicrocalcError as exc:
            log.warning("cannot report %s: %s", uid, exc)
            self.spool.fail(uid, str(exc))
            return
        except OSError as exc:  # staging in the spool failed: as NotWritten
            log.error("cannot write the results of %s (%s); it stays spooled", uid, exc.strerror or exc)
            return
        log.info(
            "scanned %s: %d finding(s); SR %s queued", uid, len(result.findings), document.SOPInstanceUID
        )
        self.sr_ready.set()
