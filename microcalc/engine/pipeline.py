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

Every stage reports whatever it dies of to the caller (:func:`~microcalc.engine.stages.run_stage`),
and every input gets a result: decoded, or refused with a one-line error
(:func:`~microcalc.engine.prepare.prepare` with
:func:`~microcalc.engine.read_guard.read_checked`, which also bounds the decode time), so a
hostile file costs one input, never the batch, and the caller never waits forever.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from microcalc.engine import stages
from microcalc.engine.backends.base import Backend
from microcalc.engine.findings import find_clusters, score_grid
from microcalc.engine.jobs import JobSource, PreparedResults, ScanInputs
from microcalc.engine.read_guard import Reader
from microcalc.engine.ring import BufferRing
from microcalc.engine.scan_result import PreparedImage, ScanFailure, ScanResult
from microcalc.engine.settings import ScanSettings
from microcalc.engine.stages import END, ImageDone, InFlight, Job, StageFailed, TileBatch
from microcalc.engine.tiler import batch_sizes, fill_batch
from microcalc.engine.triage import Triage
from microcalc.errors import InternalError


class Scanner:
    """Streams inputs through an active backend; see the module docstring.

    Args:
        backend: an active backend whose input is ``[N, 1, P, P]`` uint8.
        reader: reads one path (e.g. ``partial(read_mammogram, force=False, min_side=P)``, or an
            :class:`~microcalc.imaging.isolated.IsolatedReader` for untrusted files).
        settings: tiling and decision settings.
        triage: the cascade's first model; only the tiles it keeps reach ``backend``.
    """

    def __init__(
        self, backend: Backend, *, reader: Reader, settings: ScanSettings, triage: Triage | None = None
    ) -> None:
        self.backend, self.triage = backend, triage
        self.reader = reader
        self.settings = settings
        self.patch_size = int(backend.input_shape[-1])
        batch = min(settings.batch_size, backend.max_batch)
        self.ring = BufferRing(backend, batch_size=batch, depth=settings.depth)

    def scan(self, inputs: Iterable[Path] | JobSource) -> Iterator[ScanResult | ScanFailure]:
        """Scan ``inputs`` in order, yielding one :class:`ScanResult` per input as it completes (raising
        what a stage died of once the others stop). ``inputs``: paths, or a job source such as a
        :class:`~microcalc.engine.jobs.ScanInputs` whose first image started decoding early."""
        if not hasattr(inputs, "jobs"):
            inputs = ScanInputs(
                list(inputs), reader=self.reader, settings=self.settings, patch_size=self.patch_size
            )
        stop = threading.Event()
        return self._run(inputs.jobs(stop), stop)

    def scan_prepared(
        self, results: Iterable[PreparedImage | ScanFailure]
    ) -> Iterator[ScanResult | ScanFailure]:
        """:meth:`scan` for inputs already through :func:`~microcalc.engine.prepare.prepare` elsewhere
        (``mc-scan --ray``'s Ray tasks, ``mc-bench``'s decode processes)."""
        return self.scan(PreparedResults(results))

    def _run(self, prepared: Iterator[Job], stop: threading.Event) -> Iterator[ScanResult | ScanFailure]:
        jobs: queue.Queue = queue.Queue(maxsize=1)
        ready: queue.Queue = queue.Queue(maxsize=self.settings.depth)
        done: queue.Queue = queue.Queue(maxsize=2)
        bodies = (
            ("decode", lambda: self._decode(prepared, jobs, stop), jobs),
            ("fill", lambda: self._fill(jobs, ready, stop), ready),
            ("infer", lambda: self._infer(ready, done, stop), done),
        )
        workers = [
            threading.Thread(
                target=stages.run_stage, args=(name, body, out, stop), daemon=True, name=f"mc-scan-{name}"
            )
            for name, body, out in bodies
        ]
        for worker in workers:
            worker.start()
        try:
            while True:
                item = stages.get(done, stop)
                if item is END or item is None:
                    break
                if isinstance(item, StageFailed):
                    raise item.exc
                yield self._stitch(item.job)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=5)

    # ---- stages -------------------------------------------------------------------------------
    @staticmethod
    def _decode(prepared: Iterator[Job], jobs: queue.Queue, stop: threading.Event) -> None:
        for job in prepared:  # a generator: each image is decoded here, on the decode thread
            if not stages.put(jobs, job, stop):
                return
        stages.put(jobs, END, stop)

    def _fill(self, jobs: queue.Queue, ready: queue.Queue, stop: threading.Event) -> None:
        while (job := stages.get(jobs, stop)) is not END and job is not None:
            if isinstance(job, StageFailed):
                stages.put(ready, job, stop)
                return
            prepared = job.prepared
            if prepared.error is None:
                self._select(job)
            n_tiles = 0 if job.grid is None else len(job.grid)
            job.scores = np.empty(n_tiles, dtype=np.float32)
            job.times_ms["copies"] = 0.0
            first = 0
            for size in batch_sizes(n_tiles, batch=self.ring.batch_size, lanes=self.settings.max_in_flight):
                slot = stages.acquire(self.ring, stop)
                if slot is None:
                    return
                t = time.perf_counter()
                n = fill_batch(prepared.image.pixels, job.grid, first, self.ring.buffers[slot][:size])
                job.times_ms["copies"] += (time.perf_counter() - t) * 1e3
                if not stages.put(ready, TileBatch(job=job, first=first, n=n, slot=slot), stop):
                    return
                first += n
            if not stages.put(ready, ImageDone(job), stop):
                return
        stages.put(ready, END, stop)

    def _select(self, job: Job) -> None:
        """The fill stage's choice of tiles for the model: the whole grid, or what triage keeps; a
        triage that fails refuses this image alone (``job.failure``) and the scan goes on."""
        prepared = job.prepared
        if self.triage is None:
            job.grid = prepared.grid
            return
        t = time.perf_counter()
        try:
            job.triage = self.triage.select(prepared.image.pixels, prepared.grid, path=prepared.path)
        except InternalError as exc:
            job.failure = ScanFailure(
                index=prepared.index, path=prepared.path, error=exc, times_ms=prepared.times_ms
            )
            return
        job.times_ms["triage"] = (time.perf_counter() - t) * 1e3
        job.grid = job.triage.kept_grid(prepared.grid)

    def _infer(self, ready: queue.Queue, done: queue.Queue, stop: threading.Event) -> None:
        inflight: deque[InFlight | ImageDone] = deque()
        max_inflight = self.settings.max_in_flight
        while True:
            try:
                item = ready.get_nowait()
            except queue.Empty:
                if self._wait_on_oldest(inflight, max_inflight):  # else the filler's next batch is near
                    if not self._collect(inflight.popleft(), done, stop):
                        return
                    continue
                item = stages.get(ready, stop)
            if item is None:
                return
            if item is END or isinstance(item, StageFailed):
                while inflight:
                    if not self._collect(inflight.popleft(), done, stop):
                        return
                stages.put(done, item, stop)
                return
            if isinstance(item, TileBatch):
                t = time.perf_counter()
                inflight.append(
                    InFlight(
                        batch=item,
                        pending=self.backend.submit(self.ring.buffers[item.slot], item.n),
                        submitted=t,
                    )
                )
            else:
                inflight.append(item)
            while sum(isinstance(entry, InFlight) for entry in inflight) > max_inflight or (
                inflight and isinstance(inflight[0], ImageDone)
            ):
                if not self._collect(inflight.popleft(), done, stop):
                    return

    @staticmethod
    def _wait_on_oldest(inflight: deque[InFlight | ImageDone], max_inflight: int) -> bool:
        """Whether the infer stage, with nothing new ready, should wait on its oldest batch: when as
        many batches as may be are in flight, or the image is wholly submitted (its ``ImageDone`` is
        queued and the filler may be waiting for the next decode). Otherwise the filler holds a free
        buffer and its batch comes next: waiting on the oldest instead left OpenVINO's second stream
        idle, so the model ran at two thirds of its own speed inside the scan (issue 26)."""
        batches = sum(isinstance(entry, InFlight) for entry in inflight)
        return batches >= max_inflight or batches < len(inflight)

    def _collect(self, entry: InFlight | ImageDone, done: queue.Queue, stop: threading.Event) -> bool:
        if isinstance(entry, ImageDone):
            return stages.put(done, entry, stop)
        batch = entry.batch
        job, first, n = batch.job, batch.first, batch.n
        result = entry.pending.result()
        self.ring.release(batch.slot)
        job.scores[first : first + n] = result.p_cluster[:n]
        cam = np.asarray(result.cam[:n], dtype=np.float32)
        if job.cams is None:
            job.cams = np.empty((job.scores.shape[0], *cam.shape[1:]), dtype=np.float32)
        job.cams[first : first + n] = cam
        # batches overlap on asynchronous backends: count the time any batch of this image was in flight
        end = time.perf_counter()
        busy = end - max(entry.submitted, job.busy_until)
        job.busy_until = max(job.busy_until, end)
        job.times_ms["inference"] = job.times_ms.get("inference", 0.0) + max(0.0, busy) * 1e3
        for key, value in result.timings_ms.items():
            job.backend_ms[key] = job.backend_ms.get(key, 0.0) + float(value)
        return True

    def _stitch(self, job: Job) -> ScanResult | ScanFailure:
        """The caller's thread: the frozen result of one image from what the stages collected."""
        prepared = job.prepared
        if prepared.error is not None:
            return prepared
        if job.failure is not None:
            return job.failure
        t = time.perf_counter()
        scores, cams = job.scores, job.cams
        if job.triage is not None:
            scores, cams = job.triage.expand(scores, cams)
        if cams is None:
            cams = np.zeros((0, 1, 1), dtype=np.float32)
        grid = prepared.grid
        scan_findings = find_clusters(
            grid, scores, cams, threshold=self.settings.threshold, cam_fraction=self.settings.cam_fraction
        )
        heat = score_grid(grid, scores)
        times = {**prepared.times_ms, **job.times_ms}
        times["tiling"] = times.get("tiling", 0.0) + times.pop("copies", 0.0)
        times.setdefault("inference", 0.0)
        now = time.perf_counter()
        times["stitching"] = (now - t) * 1e3
        times["wall"] = (now - job.started) * 1e3
        return ScanResult(
            index=prepared.index,
            path=prepared.path,
            image=prepared.image,
            geometry=prepared.geometry,
            grid=grid,
            scores=scores,
            cams=cams,
            heat=heat,
            findings=prepared.geometry.to_original(scan_findings),
            scan_findings=scan_findings,
            times_ms=times,
            backend_ms=dict(job.backend_ms),
            triage=job.triage,
        )
