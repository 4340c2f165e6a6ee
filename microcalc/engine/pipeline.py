"""The scanning pipeline: many mammograms stream through one loaded backend.

Three worker threads joined by bounded queues, so each stage waits for the next (backpressure)
and no stage ever holds more than a few images or batches::

    decode  : read image k+1, breast mask, tile grid      -> jobs  (1 image ahead)
    fill    : copy tiles of image k into ring buffers      -> ready (bounded by the ring)
    infer   : submit buffers, collect results in order, release buffers -> done
    caller  : stitching (score grid, findings) and reports, off the hot path

Decoding the next image and copying tiles run while the backend computes the current batches:
numpy copies, pydicom's decoders and every backend's run release the GIL. With ``depth``
buffers and at most ``depth - 1`` batches in flight, the filler always has a buffer to fill
while the backend works, which overlaps copies with compute on asynchronous (CUDA) backends too.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends.base import Backend
from microcalc.engine.findings import Finding, find_clusters, score_grid
from microcalc.engine.mask import breast_mask
from microcalc.engine.ring import BufferRing
from microcalc.engine.tiler import TileGrid, fill_batch, plan_tiles
from microcalc.errors import InputError, MicrocalcError

Reader = Callable[[Path], Any]
"""Reads one input into an object with ``pixels`` (uint8 ``[rows, cols]``) and ``meta``."""

_POLL_S = 0.1
_END = object()


@dataclass(frozen=True)
class ScanSettings:
    """How images are tiled and judged; validated here, in one place.

    Attributes:
        threshold: a tile is suspicious when its cluster probability reaches this.
        overlap: fraction of a tile shared with its neighbour, in ``[0, 1)``.
        min_breast: tiles with a smaller tissue fraction are skipped, in ``[0, 1]``.
        batch_size: tiles per backend call.
        depth: batch buffers in the ring (at least 2).
        cam_fraction: share of the CAM peak that a finding's box encloses.
        mask_factor: downsampling of the copy the breast mask is computed on.
    """

    threshold: float
    overlap: float = 0.25
    min_breast: float = 0.05
    batch_size: int = 8
    depth: int = 3
    cam_fraction: float = 0.5
    mask_factor: int = 8

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise MicrocalcError(f"threshold must lie in (0, 1), got {self.threshold}")
        if not 0.0 <= self.overlap < 1.0:
            raise MicrocalcError(f"overlap must lie in [0, 1), got {self.overlap}")
        if not 0.0 <= self.min_breast <= 1.0:
            raise MicrocalcError(f"min-breast must lie in [0, 1], got {self.min_breast}")
        if self.batch_size < 1:
            raise MicrocalcError(f"batch size must be at least 1, got {self.batch_size}")
        if self.depth < 2:
            raise MicrocalcError(f"ring depth must be at least 2, got {self.depth}")


@dataclass
class ScanResult:
    """One input's outcome: either ``error`` is set, or the image was scanned.

    ``times_ms`` holds ``decode``, ``tiling`` (mask, grid and tile copies), ``inference`` (wall
    time during which at least one of the image's batches was in the backend), ``stitching``
    and ``wall`` (decode start to stitching end; consecutive images overlap, so do their walls).
    """

    index: int
    path: Path
    image: Any = None
    grid: TileGrid | None = None
    scores: np.ndarray | None = None
    cams: np.ndarray | None = None
    heat: np.ndarray | None = None
    findings: list[Finding] = field(default_factory=list)
    times_ms: dict[str, float] = field(default_factory=dict)
    backend_ms: dict[str, float] = field(default_factory=dict)
    error: MicrocalcError | None = None
    started: float = 0.0
    busy_until: float = 0.0


class _WorkerFailed(Exception):
    """Carries an unexpected exception from a worker thread to the caller."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(repr(exc))
        self.exc = exc


def read_checked(reader: Reader, path: Path, *, patch_size: int) -> Any:
    """Read one input and check it holds at least one tile; every failure is a one-line ``InputError``."""
    try:
        image = reader(path)
    except MicrocalcError:
        raise
    except (OSError, ValueError, EOFError, KeyError, AttributeError, TypeError, NotImplementedError) as exc:
        # Decoders raise many types for corrupt files; at this boundary each is the input's fault.
        raise InputError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from exc
    rows, cols = image.pixels.shape
    if rows < patch_size or cols < patch_size:
        raise InputError(f"{path}: the image ({rows}x{cols}) is smaller than one {patch_size}x{patch_size} tile")
    return image


class Scanner:
    """Streams inputs through an active backend; see the module docstring.

    Args:
        backend: an active backend whose input is ``[N, 1, P, P]`` uint8.
        reader: reads one path (e.g. ``partial(read_mammogram, force=False, min_side=P)``).
        settings: tiling and decision settings.
    """

    def __init__(self, backend: Backend, *, reader: Reader, settings: ScanSettings) -> None:
        self.backend = backend
        self.reader = reader
        self.settings = settings
        self.patch_size = int(backend.input_shape[-1])
        batch = min(settings.batch_size, backend.max_batch)
        self.ring = BufferRing(backend, batch_size=batch, depth=settings.depth)

    def scan(self, paths: Iterable[Path]) -> Iterator[ScanResult]:
        """Scan ``paths`` in order, yielding one :class:`ScanResult` per input as it completes."""
        stop = threading.Event()
        jobs: queue.Queue = queue.Queue(maxsize=1)
        ready: queue.Queue = queue.Queue(maxsize=self.settings.depth)
        done: queue.Queue = queue.Queue(maxsize=2)
        workers = [threading.Thread(target=self._guard, args=(fn, out, stop), daemon=True, name=f"mc-scan-{name}")
                   for name, fn, out in (("decode", lambda: self._decode(list(paths), jobs, stop), jobs),
                                         ("fill", lambda: self._fill(jobs, ready, stop), ready),
                                         ("infer", lambda: self._infer(ready, done, stop), done))]
        for worker in workers:
            worker.start()
        try:
            while True:
                item = _get(done, stop)
                if item is _END:
                    break
                if isinstance(item, _WorkerFailed):
                    raise item.exc
                yield self._stitch(item)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=5)

    # ---- stages -------------------------------------------------------------------------------
    @staticmethod
    def _guard(fn: Callable[[], None], out: queue.Queue, stop: threading.Event) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread
            _put(out, _WorkerFailed(exc), stop)

    def _decode(self, paths: list[Path], jobs: queue.Queue, stop: threading.Event) -> None:
        s = self.settings
        for index, path in enumerate(paths):
            job = ScanResult(index=index, path=Path(path), started=time.perf_counter())
            try:
                job.image = read_checked(self.reader, job.path, patch_size=self.patch_size)
                job.times_ms["decode"] = (time.perf_counter() - job.started) * 1e3
                t = time.perf_counter()
                mask = breast_mask(job.image.pixels, factor=s.mask_factor)
                job.grid = plan_tiles(mask, size=self.patch_size, overlap=s.overlap, min_breast=s.min_breast)
                job.times_ms["tiling"] = (time.perf_counter() - t) * 1e3
            except MicrocalcError as exc:
                job.error = exc
            if not _put(jobs, job, stop):
                return
        _put(jobs, _END, stop)

    def _fill(self, jobs: queue.Queue, ready: queue.Queue, stop: threading.Event) -> None:
        while (job := _get(jobs, stop)) is not _END and job is not None:
            if isinstance(job, _WorkerFailed):
                _put(ready, job, stop)
                return
            n_tiles = 0 if job.error is not None else len(job.grid)
            job.scores = np.empty(n_tiles, dtype=np.float32)
            first = 0
            while first < n_tiles:
                slot = _acquire(self.ring, stop)
                if slot is None:
                    return
                t = time.perf_counter()
                n = fill_batch(job.image.pixels, job.grid, first, self.ring.buffers[slot])
                job.times_ms["tiling"] += (time.perf_counter() - t) * 1e3
                if not _put(ready, ("batch", job, first, n, slot), stop):
                    return
                first += n
            if not _put(ready, ("end", job), stop):
                return
        _put(ready, _END, stop)

    def _infer(self, ready: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
        inflight: deque = deque()
        max_inflight = self.settings.depth - 1
        while True:
            try:
                item = ready.get_nowait()
            except queue.Empty:
                if inflight:  # nothing new to submit: collect what is running
                    if not self._collect(inflight.popleft(), done, stop):
                        return
                    continue
                item = _get(ready, stop)
            if item is None:
                return
            if item is _END or isinstance(item, _WorkerFailed):
                while inflight:
                    if not self._collect(inflight.popleft(), done, stop):
                        return
                _put(done, item, stop)
                return
            if item[0] == "batch":
                _, job, first, n, slot = item
                t = time.perf_counter()
                pending = self.backend.submit(self.ring.buffers[slot], n)
                inflight.append(("batch", job, first, n, slot, pending, t))
            else:
                inflight.append(item)
            while sum(1 for entry in inflight if entry[0] == "batch") > max_inflight or \
                    (inflight and inflight[0][0] == "end"):
                if not self._collect(inflight.popleft(), done, stop):
                    return

    def _collect(self, entry: tuple, done: queue.Queue, stop: threading.Event) -> bool:
        if entry[0] == "end":
            return _put(done, entry[1], stop)
        _, job, first, n, slot, pending, t = entry
        result = pending.result()
        self.ring.release(slot)
        job.scores[first:first + n] = result.p_cluster[:n]
        cam = np.asarray(result.cam[:n], dtype=np.float32)
        if job.cams is None:
            job.cams = np.empty((job.scores.shape[0], *cam.shape[1:]), dtype=np.float32)
        job.cams[first:first + n] = cam
        # batches overlap on asynchronous backends: count the time any batch of this image was in flight
        end = time.perf_counter()
        busy = end - max(t, job.busy_until)
        job.busy_until = max(job.busy_until, end)
        job.times_ms["inference"] = job.times_ms.get("inference", 0.0) + max(0.0, busy) * 1e3
        for key, value in result.timings_ms.items():
            job.backend_ms[key] = job.backend_ms.get(key, 0.0) + float(value)
        return True

    def _stitch(self, job: ScanResult) -> ScanResult:
        if job.error is not None:
            return job
        t = time.perf_counter()
        job.times_ms.setdefault("inference", 0.0)
        if job.cams is None:
            job.cams = np.zeros((0, 1, 1), dtype=np.float32)
        job.heat = score_grid(job.grid, job.scores)
        job.findings = find_clusters(job.grid, job.scores, job.cams, threshold=self.settings.threshold,
                                     cam_fraction=self.settings.cam_fraction)
        now = time.perf_counter()
        job.times_ms["stitching"] = (now - t) * 1e3
        job.times_ms["wall"] = (now - job.started) * 1e3
        return job


# ---- queue helpers that give up when the scan is stopped --------------------------------------
def _put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return None


def _acquire(ring: BufferRing, stop: threading.Event) -> int | None:
    while not stop.is_set():
        try:
            return ring.acquire(timeout=_POLL_S)
        except queue.Empty:
            continue
    return None
