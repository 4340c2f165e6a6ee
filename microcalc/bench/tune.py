"""``mc-bench --tune``: OpenVINO's CPU configurations timed on this host, the fastest stored for mc-scan.

Each configuration of :data:`~microcalc.engine.backends.cpu_config.ALTERNATIVES` (performance hint
x thread pinning) is compiled side by side, then timed in interleaved rounds (so that neighbours
sharing the cores weigh on every configuration alike) as mc-scan's pipeline runs the model: batches
of the scan's size with two in flight. The fastest by median wall time per tile is stored in this
host's cache (:func:`~microcalc.engine.backends.cpu_config.store_choice`), from which every later
``OpenVinoBackend`` of that model variant on this host takes its configuration (``source:
measured``); the report's ``tuning`` lists every alternative with its wall and process CPU time.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from microcalc.bench.stats import median
from microcalc.bench.throughput import fill_batch


def tune_openvino(
    bundle: Any, *, precision: str, batch_size: int, tiles: np.ndarray, rounds: int = 3, batches: int = 4
) -> dict[str, Any]:
    """Time every alternative on ``tiles`` (cycled to ``batches`` batches per round); store the fastest.

    Returns the report's ``tuning`` object: ``alternatives`` (name, hint, pinning, median wall and
    CPU ms per tile, streams OpenVINO made), ``chosen`` and ``cache`` (the file written).
    """
    from microcalc.engine.backends import cpu_config, selection

    variant = bundle.variant(precision=precision)
    runners = {}
    try:
        for config in cpu_config.ALTERNATIVES:
            runner = selection.create_backend(
                "openvino",
                bundle,
                precision=precision,
                max_batch=batch_size,
                performance_hint=config.hint,
                pinning=config.pinning,
            )
            runner.activate()
            runners[config] = runner
        buffers = {config: _buffers(runner, tiles, batch_size) for config, runner in runners.items()}
        for config, runner in runners.items():  # untimed: every request once
            _run(runner, buffers[config], batches=len(buffers[config]))
        wall: dict[Any, list[float]] = {c: [] for c in runners}
        cpu: dict[Any, list[float]] = {c: [] for c in runners}
        for _ in range(rounds):
            for config, runner in runners.items():
                w, c = _run(runner, buffers[config], batches=batches)
                wall[config].append(w / (batches * batch_size))
                cpu[config].append(c / (batches * batch_size))
        alternatives = [
            {
                **config.to_dict(),
                "source": "measured",
                "streams": runners[config].runtime().get("num_streams"),
                "wall_ms_per_tile": median(wall[config]),
                "cpu_ms_per_tile": median(cpu[config]),
                "rounds": rounds,
            }
            for config in runners
        ]
    finally:
        for runner in runners.values():
            runner.deactivate()
    best = min(alternatives, key=lambda a: a["wall_ms_per_tile"])
    chosen = cpu_config.CpuConfig(hint=best["hint"], pinning=best["pinning"], source="measured")
    path = cpu_config.store_choice(variant.sha256, chosen, measured=alternatives)
    return {
        "backend": "openvino",
        "precision": precision,
        "batch_size": batch_size,
        "tiles_per_round": batches * batch_size,
        "alternatives": alternatives,
        "chosen": chosen.name,
        "cache": str(path),
        "load_average": list(os.getloadavg()),
    }


def _buffers(runner: Any, tiles: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Two host buffers (the pipeline's two batches in flight) holding different tiles."""
    out = []
    for i in range(2):
        buf = runner.host_buffer(batch_size)
        fill_batch(buf, tiles, start=i * batch_size)
        out.append(buf)
    return out


def _run(runner: Any, buffers: list[np.ndarray], *, batches: int) -> tuple[float, float]:
    """``batches`` batches with ``len(buffers)`` in flight (the backend waits for a buffer's previous
    batch before reusing its request); wall and process CPU ms."""
    wall, cpu = time.perf_counter(), time.process_time()
    pending = [runner.submit(buffers[i % len(buffers)], buffers[0].shape[0]) for i in range(batches)]
    for batch in pending:
        batch.result()
    return (time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3
