"""What the scanning pipeline's stage threads pass each other, and the queue plumbing they share.

Each message is a small frozen dataclass that names its fields, so a stage cannot confuse a
batch with the end of an image. The per-image bookkeeping (start time, in-flight accounting,
scores collected so far) lives in :class:`Job`; the public
:class:`~microcalc.engine.scan_result.ScanResult` is made once, frozen, at stitching.

Every queue operation polls a stop event, so no stage blocks forever once the scan is over, and
:func:`run_stage` turns any failure of a stage, ``BaseException`` included, into a
:class:`StageFailed` that travels down the queues to the caller instead of silently killing
the thread (which would leave the caller waiting for an end marker that never comes).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from microcalc.engine.backends.base import PendingBatch
    from microcalc.engine.ring import BufferRing
    from microcalc.engine.scan_result import PreparedImage, ScanFailure
    from microcalc.engine.tiler import TileGrid
    from microcalc.engine.triage import TriageOutcome

POLL_S = 0.1


@dataclass
class Job:
    """One image on its way through the stages: its frozen input, and what the stages collect.

    ``started`` is when decoding began (for the wall time). Each field below is written by the one
    stage that owns it: the fill stage the ``grid`` of the tiles it sends (all of them, or what
    triage keeps), ``triage`` and a triage ``failure``; the infer stage ``scores``, ``cams``,
    ``backend_ms`` and ``busy_until`` (the end of the image's latest collected batch, so that
    overlapping batches count once in the inference time); ``times_ms`` collects per-stage times
    under distinct keys. Stitching turns it into a frozen
    :class:`~microcalc.engine.scan_result.ScanResult` or :class:`~microcalc.engine.scan_result.ScanFailure`.
    """

    prepared: PreparedImage | ScanFailure
    started: float
    busy_until: float = 0.0
    grid: TileGrid | None = None
    triage: TriageOutcome | None = None
    failure: ScanFailure | None = None
    scores: np.ndarray | None = None
    cams: np.ndarray | None = None
    times_ms: dict[str, float] = field(default_factory=dict)
    backend_ms: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class TileBatch:
    """Tiles ``first .. first + n`` of ``job``'s grid, copied into ring buffer ``slot``."""

    job: Job
    first: int
    n: int
    slot: int


@dataclass(frozen=True)
class InFlight:
    """A :class:`TileBatch` submitted to the backend at ``submitted`` (perf_counter seconds)."""

    batch: TileBatch
    pending: PendingBatch
    submitted: float


@dataclass(frozen=True)
class ImageDone:
    """Every batch of ``job`` has been queued before this marker (none for a failed input)."""

    job: Job


@dataclass(frozen=True)
class StageFailed:
    """A stage died of ``exc``; the caller re-raises it after the other stages stop."""

    stage: str
    exc: BaseException


@dataclass(frozen=True)
class EndOfInputs:
    """No more messages will follow on this queue."""


END = EndOfInputs()


def run_stage(name: str, body: Callable[[], None], out: queue.Queue, stop: threading.Event) -> None:
    """Run one stage thread's ``body``; whatever it dies of goes to ``out`` for the caller.

    ``BaseException`` is caught on purpose: a decoder's pyo3 ``PanicException`` derives from it,
    and in a worker thread even ``SystemExit`` would otherwise end the thread silently. The
    caller's thread re-raises the exception, so interrupts and exits still take effect there.
    """
    try:
        body()
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which re-raises it
        put(out, StageFailed(name, exc), stop)


def put(q: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Put ``item`` unless the scan is stopped first; says whether it was put."""
    while not stop.is_set():
        try:
            q.put(item, timeout=POLL_S)
            return True
        except queue.Full:
            continue
    return False


def get(q: queue.Queue, stop: threading.Event) -> Any:
    """The next item, or ``None`` once the scan is stopped."""
    return _poll(lambda timeout: q.get(timeout=timeout), stop)


def acquire(ring: BufferRing, stop: threading.Event) -> int | None:
    """A free ring slot, or ``None`` once the scan is stopped."""
    return _poll(lambda timeout: ring.acquire(timeout=timeout), stop)


def _poll(take: Callable[[float], Any], stop: threading.Event) -> Any:
    while not stop.is_set():
        try:
            return take(POLL_S)
        except queue.Empty:
            continue
    return None
