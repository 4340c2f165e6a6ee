"""End-to-end cost of scanning one mammogram, against the model alone on the same tiles.

The scan goes through the engine's own :class:`~microcalc.engine.pipeline.Scanner` (decode,
mask and tiling, inference, stitching), then the very tiles it scanned are run through the same
backend with nothing else to do: ``efficiency = model_only_ms / wall_ms`` says how much of the
wall time the model is the bottleneck (1.0: the pipeline adds nothing).

The single scan is run as ``mc-scan`` runs its first image: the image starts decoding
(:class:`~microcalc.engine.first_decode.FirstDecode`) before the backend is activated and warmed
up, and ``wall_ms`` counts from the moment the backend is ready (``startup_ms`` before it: the
activation and warm-up, which the decode ran under). ``decode_in_front`` is the same image
scanned again with its decode and tiling in front of its first batch, which nothing hides.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

from microcalc.bench import variants
from microcalc.engine.tiler import fill_batch

STAGES = ("decode", "resample", "tiling", "triage", "inference", "stitching")  # triage: only when it ran


def measure_scan(
    bundle: Any,
    *,
    backend: str,
    precision: str,
    batch_size: int,
    mammogram: Path,
    stream: int = 3,
    warmup: int = 1,
    worklist: list[Path] | None = None,
    decode_workers: int = 0,
) -> dict[str, Any]:
    """The report's ``scan`` object for one mammogram with one variant.

    The image is scanned alone (``wall_ms``, ``stages_ms`` and ``efficiency`` are this single
    scan's), its decode started before the backend's activation and ``warmup`` untimed batches
    (see the module docstring); then once more with the decode in front (``decode_in_front``).
    Then a worklist is scanned in one run (``worklist``, default the same file ``stream`` times),
    where decoding the next images overlaps inference of the current one, on the scanner's decode
    thread or, with ``decode_workers``, in that many processes (``stream``: images per second,
    per-image wall, efficiency). The model-only time is the same tiles through the same backend
    with the buffers filled beforehand, all submitted at once so the backend keeps as many in
    flight as it can; the worklist's model-only time is that per tile times its tiles.
    """
    from microcalc.engine.first_decode import FirstDecode
    from microcalc.engine.pipeline import Scanner, ScanSettings
    from microcalc.engine.triage import Triage
    from microcalc.imaging import read_mammogram

    p, path = bundle.config.patch_size, Path(mammogram)
    settings = ScanSettings(
        threshold=bundle.threshold, batch_size=batch_size, model_spacing_mm=bundle.config.pixel_spacing_mm
    )
    reader = partial(read_mammogram, min_side=p)
    started = time.perf_counter()
    with FirstDecode(path, reader=reader, settings=settings, patch_size=p) as first:
        runner = variants.start_backend(backend, bundle, precision=precision, max_batch=batch_size)
        try:
            warm = runner.host_buffer(batch_size)
            warm[:] = 0
            for _ in range(warmup):
                runner.submit(warm, batch_size).result()
            startup_ms = (time.perf_counter() - started) * 1e3
            scanner = Scanner(runner, reader=reader, settings=settings, triage=Triage.from_bundle(bundle))
            (result,), wall_ms = _timed_scan(scanner, [path], first=first)
            _, front_ms = _timed_scan(scanner, [path])
            paths = [Path(m) for m in worklist] if worklist else [path] * stream
            stream_results, stream_ms = (
                _timed_scan(scanner, paths, decode_workers=decode_workers) if len(paths) > 1 else ([], 0.0)
            )
            grid, pixels = result.grid, result.image.pixels
            grid = result.triage.kept_grid(grid) if result.triage else grid  # the tiles the model ran
            buffers = []
            for start in range(0, len(grid), batch_size):
                buf = runner.host_buffer(batch_size)
                buffers.append((buf, fill_batch(pixels, grid, start, buf)))
            t = time.perf_counter()
            for pending in [runner.submit(buf, n) for buf, n in buffers]:
                pending.result()
            model_only_ms = (time.perf_counter() - t) * 1e3
        finally:
            runner.deactivate()
    out = {
        "backend": backend,
        "precision": precision,
        "batch_size": batch_size,
        "mammogram": str(mammogram),
        "shape": list(pixels.shape),
        "tiles": len(grid),
        "batches": math.ceil(len(grid) / batch_size),
        "wall_ms": wall_ms,
        "stages_ms": {
            k: float(result.times_ms.get(k, 0.0)) for k in STAGES if k in result.times_ms or k != "triage"
        },
        "backend_ms": dict(result.backend_ms),
        "model_only_ms": model_only_ms,
        "efficiency": model_only_ms / wall_ms,
        "startup_ms": startup_ms,
        "decode_in_front": {"wall_ms": front_ms, "efficiency": model_only_ms / front_ms},
        "stream": None,
        "triage": result.triage.to_dict() if result.triage else None,  # a bundle with one: on, as mc-scan
    }
    if stream_results:
        per_image = stream_ms / len(stream_results)
        tiles = sum(r.triage.kept.size if r.triage else len(r.grid) for r in stream_results)
        out["stream"] = {
            "images": len(stream_results),
            "tiles": tiles,
            "wall_ms_per_image": per_image,
            "images_per_s": len(stream_results) / (stream_ms / 1e3),
            "decode_workers": decode_workers,
            "efficiency": model_only_ms / len(grid) * tiles / stream_ms,
        }
    return out


def _timed_scan(
    scanner: Any, paths: list[Path], *, decode_workers: int = 0, first: Any = None
) -> tuple[list[Any], float]:
    """Scan ``paths`` through one pipeline run; the results and the wall time in ms.

    With ``decode_workers`` the inputs are prepared in that many processes, started before the clock;
    ``first`` is the first path's :class:`~microcalc.engine.first_decode.FirstDecode`, started earlier.
    """
    if decode_workers < 1:
        start = time.perf_counter()
        results = list(scanner.scan(paths, first=first))
        return _checked(results), (time.perf_counter() - start) * 1e3
    from microcalc.bench.worklist import decode_pool, prepared_in_processes

    with decode_pool(decode_workers) as pool:
        start = time.perf_counter()
        prepared = prepared_in_processes(
            pool,
            paths,
            reader=scanner.reader,
            settings=scanner.settings,
            patch_size=scanner.patch_size,
            workers=decode_workers,
        )
        results = list(scanner.scan_prepared(prepared))
        wall_ms = (time.perf_counter() - start) * 1e3
    return _checked(results), wall_ms


def _checked(results: list[Any]) -> list[Any]:
    for result in results:
        if result.error is not None:
            raise result.error
    return results
