"""Model throughput and latency of one backend variant, and its scores for parity.

A backend is any :class:`~microcalc.engine.backends.base.Backend`. Two methods:

* :func:`measure_batches` (the default, for slow CPU runs): each repeat runs one batch
  synchronously (the backend's ``infer``) after ``warmup`` untimed batches; patches per second is
  the batch size over the median batch latency, trtexec's throughput of one stream. OpenVINO's
  ``infer`` splits the batch over its infer requests, so under its default ``THROUGHPUT`` hint the
  batch runs on every CPU stream, as mc-scan's two batches in flight do (one request alone would
  time one stream, a single core of two).
* :func:`measure_in_flight` (``mc-bench --duration``, for GPUs): trtexec's method. Warm up for a
  time (200 ms), then keep ``in_flight`` batches submitted for at least ``duration_s``; patches
  per second is everything completed over the whole window, latency is submit-to-result.

Per-batch stage times a backend reports in ``BatchResult.timings_ms`` (``h2d``, ``compute``,
``d2h``) are summarised by their medians (``stages_ms``) and, in the timed method, their p99.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from microcalc.bench.stats import latency_summary, median, stage_medians


def fill_batch(buffer: np.ndarray, tiles: np.ndarray, *, start: int = 0) -> None:
    """Fill ``buffer`` (``[b, 1, P, P]``) with ``tiles`` cycled from index ``start``."""
    for i in range(buffer.shape[0]):
        buffer[i] = tiles[(start + i) % len(tiles)]


def measure_batches(
    backend: Any,
    tiles: np.ndarray,
    *,
    batch_size: int,
    repeats: int,
    warmup: int,
    on_step: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """``patches_per_s``, ``latency_ms`` (p50/p90/p99/mean per batch) and ``stages_ms`` for one batch size.

    ``backend`` must be active and accept ``batch_size``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    buffer = backend.host_buffer(batch_size)
    fill_batch(buffer, tiles)
    for _ in range(warmup):
        backend.infer(buffer)
    latencies, stages = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = backend.infer(buffer)
        latencies.append((time.perf_counter() - start) * 1e3)
        if result.timings_ms:
            stages.append(dict(result.timings_ms))
        if on_step is not None:
            on_step()
    return {
        "patches_per_s": batch_size / (median(latencies) / 1e3),
        "latency_ms": latency_summary(latencies),
        "stages_ms": stage_medians(stages) if stages else None,
    }


def _drive(
    backend: Any,
    buffers: list[np.ndarray],
    *,
    seconds: float,
    on_result: Callable[[float, dict[str, float]], None],
) -> tuple[int, float]:
    """Keep every buffer submitted until ``seconds`` have passed; ``(batches completed, elapsed s)``.

    Each completed batch is resubmitted from the same buffer at once, so ``len(buffers)`` batches
    are in flight throughout; the last ones drain after the window and count in the elapsed time.
    """
    size = buffers[0].shape[0]
    start = time.perf_counter()
    pending = deque((time.perf_counter(), backend.submit(buf, size), buf) for buf in buffers)
    completed = 0
    while pending:
        submitted, batch, buf = pending.popleft()
        result = batch.result()
        done = time.perf_counter()
        completed += 1
        on_result((done - submitted) * 1e3, dict(result.timings_ms))
        if done - start < seconds:
            pending.append((time.perf_counter(), backend.submit(buf, size), buf))
    return completed, time.perf_counter() - start


def measure_in_flight(
    backend: Any, tiles: np.ndarray, *, batch_size: int, in_flight: int, warmup_ms: float, duration_s: float
) -> dict[str, Any]:
    """trtexec's method for one batch size: time-based warm-up, then ``duration_s`` with batches in flight.

    Returns ``patches_per_s`` (completed tiles over the window), ``latency_ms`` (submit to result,
    p50/p90/p99/mean), ``stages_ms`` (median) and ``stages_p99_ms`` of the backend's stage
    times, ``batches``, ``seconds`` and ``in_flight``.
    """
    if in_flight < 1 or duration_s <= 0 or warmup_ms < 0:
        raise ValueError(
            f"need in_flight >= 1, duration_s > 0 and warmup_ms >= 0, got {in_flight}, "
            f"{duration_s}, {warmup_ms}"
        )
    buffers = [backend.host_buffer(batch_size) for _ in range(in_flight)]
    for i, buf in enumerate(buffers):
        fill_batch(buf, tiles, start=i * batch_size)  # different tiles in each buffer: no cache-only timing
    if warmup_ms > 0:
        _drive(backend, buffers, seconds=warmup_ms / 1e3, on_result=lambda *_: None)
    latencies: list[float] = []
    stages: list[dict[str, float]] = []

    def record(latency_ms: float, timings: dict[str, float]) -> None:
        latencies.append(latency_ms)
        if timings:
            stages.append(timings)

    batches, seconds = _drive(backend, buffers, seconds=duration_s, on_result=record)
    return {
        "patches_per_s": batches * batch_size / seconds,
        "latency_ms": latency_summary(latencies),
        "stages_ms": stage_medians(stages) if stages else None,
        "stages_p99_ms": stage_medians(stages, q=99) if stages else None,
        "batches": batches,
        "seconds": seconds,
        "in_flight": in_flight,
    }


def backend_scores(backend: Any, tiles: np.ndarray, *, batch_size: int) -> np.ndarray:
    """float32 ``p_cluster`` ``[n]`` of ``tiles`` through an active backend, in batches."""
    buffer = backend.host_buffer(batch_size)
    out = []
    for i in range(0, len(tiles), batch_size):
        chunk = tiles[i : i + batch_size]
        buffer[: len(chunk)] = chunk
        out.append(np.array(backend.submit(buffer, len(chunk)).result().p_cluster, dtype=np.float32))
    return np.concatenate(out)
