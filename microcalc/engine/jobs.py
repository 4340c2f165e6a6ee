"""Where the scanner's images come from: the job sources its decode stage iterates.

:class:`ScanInputs` prepares paths in order (:func:`~microcalc.engine.prepare.prepare`) on the
decode thread. With ``early=True`` the first path starts preparing on a thread of its own at
construction: loading or compiling a model (and its first, slower inference) takes from a fraction
of a second to minutes, and without this the first image would only begin to decode once the
backend is ready, its decode and tiling in front of its first batch, which nothing hides (on one
mammogram 10-20 % of the wall time). That early result is then simply the first job the source
yields, its wall time counted from the early start. :class:`PreparedResults` feeds results
prepared elsewhere (``mc-scan --ray``'s Ray tasks, ``mc-bench``'s decode processes).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from pathlib import Path
from typing import Protocol, Self

from microcalc.engine.prepare import prepare
from microcalc.engine.read_guard import Reader
from microcalc.engine.scan_result import PreparedImage, ScanFailure
from microcalc.engine.settings import ScanSettings
from microcalc.engine.stages import POLL_S, Job


class JobSource(Protocol):
    """What :meth:`Scanner.scan <microcalc.engine.pipeline.Scanner.scan>` iterates on its decode thread."""

    def jobs(self, stop: threading.Event) -> Iterator[Job]: ...


class ScanInputs:
    """``paths`` as the scanner's jobs, prepared in order; see the module docstring for ``early``.

    Use as a context manager (or call :meth:`close`): leaving it stops an early decode nobody waits for.
    """

    def __init__(
        self,
        paths: Sequence[Path],
        *,
        reader: Reader,
        settings: ScanSettings,
        patch_size: int,
        early: bool = False,
    ) -> None:
        self.paths = [Path(p) for p in paths]
        self._prepare = {"reader": reader, "settings": settings, "patch_size": patch_size}
        self._early_stop = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._first: Future[PreparedImage | ScanFailure] | None = None
        self.started = time.perf_counter()
        if early and self.paths:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mc-scan-first-decode")
            self._first = self._pool.submit(prepare, 0, self.paths[0], **self._prepare, stop=self._early_stop)

    def jobs(self, stop: threading.Event) -> Iterator[Job]:
        """One :class:`Job` per path, in order (the early one first); ends early once ``stop`` is set."""
        todo = enumerate(self.paths)
        if self._first is not None:
            next(todo)
            first, self._first = self._first, None  # one scan takes it
            while not first.done():
                if stop.is_set():
                    return
                wait_futures([first], timeout=POLL_S)
            yield Job(prepared=first.result(), started=self.started)
        for index, path in todo:
            started = time.perf_counter()
            yield Job(prepared=prepare(index, path, **self._prepare, stop=stop), started=started)

    def close(self) -> None:
        """Ask an unfinished early decode to stop (``read_checked`` bounds how long it may still take)."""
        self._early_stop.set()
        if self._pool is not None:
            self._pool.shutdown(wait=False)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PreparedResults:
    """Results already through :func:`~microcalc.engine.prepare.prepare` elsewhere, as jobs; each
    image's wall time counts its decode and tiling plus its time in the scanner."""

    def __init__(self, results: Iterable[PreparedImage | ScanFailure]) -> None:
        self.results = results

    def jobs(self, stop: threading.Event) -> Iterator[Job]:
        for result in self.results:
            if stop.is_set():
                return
            spent_s = sum(result.times_ms.get(k, 0.0) for k in ("decode", "resample", "tiling")) / 1e3
            yield Job(prepared=result, started=time.perf_counter() - spent_s)
