"""Timing statistics in the terms of trtexec and perf_analyzer: median throughput, latency percentiles.

Percentiles use numpy's default linear interpolation, so p50 of an even-length sample is the
mean of the two middle values, as in most profilers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LATENCY_PERCENTILES = (50, 90, 99)


def median(values: Sequence[float]) -> float:
    """Median of a non-empty sample."""
    if len(values) == 0:
        raise ValueError("median of an empty sample")
    return float(np.median(np.asarray(values, dtype=np.float64)))


def latency_summary(samples_ms: Sequence[float]) -> dict[str, float]:
    """``{"p50", "p90", "p99", "mean"}`` in milliseconds of a non-empty latency sample."""
    if len(samples_ms) == 0:
        raise ValueError("latency summary of an empty sample")
    arr = np.asarray(samples_ms, dtype=np.float64)
    out = {f"p{q}": float(np.percentile(arr, q)) for q in LATENCY_PERCENTILES}
    out["mean"] = float(arr.mean())
    return out


def throughput(items: int, seconds: Sequence[float]) -> float:
    """Median items per second over repeats that each processed ``items`` items in ``seconds[i]``."""
    if items < 1:
        raise ValueError(f"items must be at least 1, got {items}")
    if any(s <= 0 for s in seconds):
        raise ValueError("every repeat must take a positive time")
    return median([items / s for s in seconds])


def stage_medians(samples: Sequence[dict[str, float]], *, q: float = 50) -> dict[str, float]:
    """Percentile ``q`` (default the median) of each named stage over samples that report
    per-stage times (e.g. h2d/compute/d2h).

    Stages missing from some samples are summarised over the samples that have them.
    """
    keys = sorted({k for s in samples for k in s})
    return {
        k: float(np.percentile(np.asarray([s[k] for s in samples if k in s], dtype=np.float64), q))
        for k in keys
    }
