"""End-to-end cost of scanning one mammogram, against the model alone on the same tiles.

The scan goes through the engine's own :class:`~microcalc.engine.pipeline.Scanner` (decode,
mask and tiling, inference, stitching), then the very tiles it scanned are run through the same
backend with nothing else to do: ``efficiency = model_only_ms / wall_ms`` says how much of the
wall time the model is the bottleneck (1.0: the pipeline adds nothing).
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

from microcalc.bench import variants
from microcalc.engine.tiler import fill_batch

STAGES = ("decode", "tiling", "inference", "stitching")


def measure_scan(bundle: Any, *, backend: str, precision: str, batch_size: int, mammogram: Path,
                 stream: int = 3, warmup: int = 1) -> dict[str, Any]:
    """The report's ``scan`` object for one mammogram with one variant.

    After ``warmup`` untimed batches the image is scanned alone (``wall_ms``, ``stages_ms`` and
    ``efficiency`` are this single scan's: decoding and tiling it sit before its first batch).
    Then the same file is scanned ``stream`` times in one run, as a worklist is, where decoding
    the next image overlaps inference of the current one (``stream``: per-image wall and
    efficiency). The model-only time is the sum of synchronous batch runs over the same tiles,
    with the buffers filled beforehand.
    """
    from microcalc.engine.pipeline import Scanner, ScanSettings
    from microcalc.imaging import read_mammogram

    p = bundle.config.patch_size
    runner = variants.start_backend(backend, bundle, precision=precision, max_batch=batch_size)
    try:
        settings = ScanSettings(threshold=bundle.threshold, batch_size=batch_size)
        warm = runner.host_buffer(batch_size)
        warm[:] = 0
        for _ in range(warmup):
            runner.submit(warm, batch_size).result()
        scanner = Scanner(runner, reader=partial(read_mammogram, min_side=p), settings=settings)
        (result,), wall_ms = _timed_scan(scanner, [Path(mammogram)])
        stream_results, stream_ms = _timed_scan(scanner, [Path(mammogram)] * stream) if stream > 1 else ([], 0.0)
        grid, pixels = result.grid, result.image.pixels
        buffers = []
        for first in range(0, len(grid), batch_size):
            buf = runner.host_buffer(batch_size)
            buffers.append((buf, fill_batch(pixels, grid, first, buf)))
        t = time.perf_counter()
        for buf, n in buffers:
            runner.submit(buf, n).result()
        model_only_ms = (time.perf_counter() - t) * 1e3
    finally:
        runner.deactivate()
    out = {"backend": backend, "precision": precision, "batch_size": batch_size, "mammogram": str(mammogram),
           "shape": list(pixels.shape), "tiles": len(grid), "batches": math.ceil(len(grid) / batch_size),
           "wall_ms": wall_ms, "stages_ms": {k: float(result.times_ms.get(k, 0.0)) for k in STAGES},
           "backend_ms": dict(result.backend_ms), "model_only_ms": model_only_ms,
           "efficiency": model_only_ms / wall_ms, "stream": None}
    if stream_results:
        per_image = stream_ms / len(stream_results)
        out["stream"] = {"images": len(stream_results), "wall_ms_per_image": per_image,
                         "efficiency": model_only_ms / per_image}
    return out


def _timed_scan(scanner: Any, paths: list[Path]) -> tuple[list[Any], float]:
    """Scan ``paths`` through one pipeline run; the results and the wall time in ms."""
    start = time.perf_counter()
    results = list(scanner.scan(paths))
    wall_ms = (time.perf_counter() - start) * 1e3
    for result in results:
        if result.error is not None:
            raise result.error
    return results, wall_ms
