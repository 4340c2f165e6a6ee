"""The first input's decode, started before the backend is ready.

Loading or compiling the model (and its first, slower inference) takes from a fraction of a
second to minutes, and until the backend is active the scanner cannot start. Without this, the
first image would only begin to decode once the backend is ready, and its decode and tiling would
sit in front of its first batch, which nothing hides: on one mammogram that is 10-20 % of the
wall time. :class:`FirstDecode` runs :func:`~microcalc.engine.pipeline.prepare` for the first
path on its own thread as soon as it is created; :meth:`Scanner.scan
<microcalc.engine.pipeline.Scanner.scan>` takes its result instead of decoding that path again,
and counts the image's wall time from this early start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import TYPE_CHECKING, Self

from microcalc.engine.read_guard import Reader
from microcalc.engine.stages import POLL_S, Job

if TYPE_CHECKING:
    from microcalc.engine.pipeline import ScanResult, ScanSettings


class FirstDecode:
    """``prepare(0, path)`` on a background thread, started at construction.

    Args:
        path: the first input of the scan.
        reader: the scan's reader (the same one the scanner gets).
        settings: the scan's settings.
        patch_size: the model's tile size.

    Use as a context manager (or call :meth:`close`): leaving it stops a decode nobody waits for.
    """

    def __init__(self, path: Path, *, reader: Reader, settings: ScanSettings, patch_size: int) -> None:
        from microcalc.engine.pipeline import prepare

        self.path = Path(path)
        self.started = time.perf_counter()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mc-scan-first-decode")
        self._future: Future[ScanResult] = self._pool.submit(
            prepare, 0, self.path, reader=reader, settings=settings, patch_size=patch_size, stop=self._stop
        )

    def jobs(self, path: Path, stop: threading.Event) -> Iterator[Job]:
        """The prepared first input as the scanner's one :class:`Job` (none if ``stop`` is set first).

        Raises ``ValueError`` when ``path`` is not the path being decoded, and what ``prepare``
        raised (a bug, never an input's fault: that is in the result's ``error``).
        """
        if Path(path) != self.path:
            raise ValueError(f"the first decode is of {self.path}, not of {path}, the first path to scan")
        while not self._future.done():
            if stop.is_set():
                return
            wait_futures([self._future], timeout=POLL_S)
        yield Job(result=self._future.result(), started=self.started)

    def close(self) -> None:
        """Ask an unfinished decode to stop (``read_checked`` bounds how long it may still take)."""
        self._stop.set()
        self._pool.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
