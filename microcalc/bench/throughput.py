"""Model throughput and latency of one backend variant, and its scores for parity.

A backend is any :class:`~microcalc.engine.backends.base.Backend`. Each repeat runs one batch
synchronously (``submit`` then ``result``), after ``warmup`` untimed batches: patches per second
is the batch size over the median batch latency, as trtexec's throughput of a single stream.
Per-batch stage times a GPU backend reports in ``BatchResult.timings_ms`` (``h2d``, ``compute``,
``d2h``) are summarised by their medians.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from microcalc.bench.stats import latency_summary, median, stage_medians


def fill_batch(buffer: np.ndarray, tiles: np.ndarray, *, start: int = 0) -> None:
    """Fill ``buffer`` (``[b, 1, P, P]``) with ``tiles`` cycled from index ``start``."""
    for i in range(buffer.shape[0]):
        buffer[i] = tiles[(start + i) % len(tiles)]


def measure_batches(backend: Any, tiles: np.ndarray, *, batch_size: int, repeats: int, warmup: int,
                    on_step: Callable[[], None] | None = None) -> dict[str, Any]:
    """``patches_per_s``, ``latency_ms`` (p50/p90/p99/mean per batch) and ``stages_ms`` for one batch size.

    ``backend`` must be active and accept ``batch_size``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    buffer = backend.host_buffer(batch_size)
    fill_batch(buffer, tiles)
    for _ in range(warmup):
        backend.submit(buffer, batch_size).result()
    latencies, stages = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        result = backend.submit(buffer, batch_size).result()
        latencies.append((time.perf_counter() - start) * 1e3)
        if result.timings_ms:
            stages.append(dict(result.timings_ms))
        if on_step is not None:
            on_step()
    return {"patches_per_s": batch_size / (median(latencies) / 1e3), "latency_ms": latency_summary(latencies),
            "stages_ms": stage_medians(stages) if stages else None}


def backend_scores(backend: Any, tiles: np.ndarray, *, batch_size: int) -> np.ndarray:
    """float32 ``p_cluster`` ``[n]`` of ``tiles`` through an active backend, in batches."""
    buffer = backend.host_buffer(batch_size)
    out = []
    for i in range(0, len(tiles), batch_size):
        chunk = tiles[i:i + batch_size]
        buffer[:len(chunk)] = chunk
        out.append(np.array(backend.submit(buffer, len(chunk)).result().p_cluster, dtype=np.float32))
    return np.concatenate(out)
