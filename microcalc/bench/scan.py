"""End-to-end cost of scanning one mammogram, against the model alone on the same tiles.

The scan is opened as ``mc-scan`` opens it (:func:`~microcalc.engine.session.open_scan`, with
mc-scan's default settings and the bundle's triage): decode, mask and tiling, inference,
stitching; files are read in this process (``isolation="none"``) so that decode times are the
decoder's. Then the very tiles it scanned are run through the same backend with nothing else to
do: ``efficiency = model_only_ms / wall_ms`` says how much of the wall time the model is the
bottleneck (1.0: the pipeline adds nothing).

The single scan is run as ``mc-scan`` runs its first image: the image starts decoding
(:class:`~microcalc.engine.jobs.ScanInputs`) before the backend is activated and warmed up, and
``wall_ms`` counts from the moment the backend is ready (``startup_ms`` before it: the
activation and warm-up, which the decode ran under). ``decode_in_front`` is the same image
scanned again with its decode and tiling in front of its first batch, which nothing hides.
"""

from __future__ import annotations

import os
import time
from functools import partial
from pathlib import Path
from typing import Any

from microcalc.bench import variants
from microcalc.engine.tiler import batch_sizes, fill_batch

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
    flight as it can; the worklist's model-only time is that per tile times its tiles. With the
    bundle's triage on (as mc-scan runs it), the cascade's model is two models: the model-only time
    adds the triage model alone on the image's whole grid (``model_only_parts_ms``), since the
    pipeline's wall time holds both.
    """
    from microcalc.engine.scan_options import DEFAULTS
    from microcalc.engine.session import model_identity, open_scan, plan_scan

    path = Path(mammogram)
    options = {**DEFAULTS, "batch_size": batch_size, "operating_point": None, "threshold": None}
    plan = plan_scan(bundle, options, isolation="none")
    started = time.perf_counter()
    runner = variants.make_backend(backend, bundle, precision=precision, max_batch=batch_size)
    own = (runner, model_identity(bundle, runner.name, precision), f"{backend} {precision}")
    with open_scan(plan, paths=[path], backend=own) as session:
        _warm_up(runner, batch_size=batch_size, batches=warmup, in_flight=plan.settings.max_in_flight)
        startup_ms = (time.perf_counter() - started) * 1e3
        scanner = session.scanner
        (result,), single = _timed_scan(scanner, session.inputs)
        model = partial(
            _model_only,
            runner,
            session.triage,
            result,
            batch_size=batch_size,
            lanes=plan.settings.max_in_flight,
        )
        single_model = model()  # each timed scan is followed at once by its model-only run
        _, front = _timed_scan(scanner, [path])
        front_model = model()
        paths = [Path(m) for m in worklist] if worklist else [path] * stream
        stream_results, stream_time = (
            _timed_scan(scanner, paths, decode_workers=decode_workers) if len(paths) > 1 else ([], None)
        )
        stream_model = model() if stream_results else None
    grid = result.triage.kept_grid(result.grid) if result.triage else result.grid  # the tiles the model ran
    out = {
        "backend": backend,
        "precision": precision,
        "batch_size": batch_size,
        "mammogram": str(mammogram),
        "shape": list(result.image.pixels.shape),
        "tiles": len(grid),
        "batches": len(batch_sizes(len(grid), batch=batch_size, lanes=plan.settings.max_in_flight)),
        "wall_ms": single["wall_ms"],
        "stages_ms": {
            k: float(result.times_ms.get(k, 0.0)) for k in STAGES if k in result.times_ms or k != "triage"
        },
        "backend_ms": dict(result.backend_ms),
        **_pair(single, single_model),
        "startup_ms": startup_ms,
        "decode_in_front": {"wall_ms": front["wall_ms"], **_pair(front, front_model)},
        "stream": None,
        "triage": result.triage.to_dict() if result.triage else None,  # a bundle with one: on, as mc-scan
        "load_average": list(os.getloadavg()),
    }
    if stream_results and stream_time and stream_model:
        per_image = stream_time["wall_ms"] / len(stream_results)
        tiles = sum(r.triage.kept.size if r.triage else len(r.grid) for r in stream_results)
        # per image of the list: the main model's share scales with its kept tiles, triage's with its grid
        scale = {
            "main": tiles / max(1, len(grid)),
            "triage": sum(len(r.grid) for r in stream_results) / max(1, len(result.grid)),
        }
        scaled: dict[str, Any] = {}
        for key in ("wall_ms", "cpu_ms"):
            scaled[f"{key}_parts"] = {
                part: stream_model[f"{key}_parts"][part] * scale[part] for part in scale
            }
            scaled[key] = sum(scaled[f"{key}_parts"].values())
        out["stream"] = {
            "images": len(stream_results),
            "tiles": tiles,
            "wall_ms_per_image": per_image,
            "images_per_s": len(stream_results) / (stream_time["wall_ms"] / 1e3),
            "decode_workers": decode_workers,
            **_pair(stream_time, {**stream_model, **scaled}),
        }
    return out


def _model_only(runner: Any, triage: Any, result: Any, *, batch_size: int, lanes: int) -> dict[str, Any]:
    """The cascade's models alone on ``result``'s tiles: the main model on the tiles it ran, buffers
    filled beforehand and all submitted at once, then the triage model (if on) on the whole grid.
    Wall and process CPU ms, in total and per part."""
    pixels, grid = result.image.pixels, result.grid
    kept = result.triage.kept_grid(grid) if result.triage else grid
    buffers, start = [], 0
    for size in batch_sizes(len(kept), batch=batch_size, lanes=lanes):  # the scanner's batches
        buf = runner.host_buffer(batch_size)
        buffers.append((buf, fill_batch(pixels, kept, start, buf[:size])))
        start += size
    wall, cpu = time.perf_counter(), time.process_time()
    for pending in [runner.submit(buf, n) for buf, n in buffers]:
        pending.result()
    main = ((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3)
    wall, cpu = time.perf_counter(), time.process_time()
    if triage is not None:
        triage.score(pixels, grid)
    second = ((time.perf_counter() - wall) * 1e3, (time.process_time() - cpu) * 1e3)
    second = second if triage is not None else (0.0, 0.0)
    return {
        "wall_ms": main[0] + second[0],
        "cpu_ms": main[1] + second[1],
        "wall_ms_parts": {"main": main[0], "triage": second[0]},
        "cpu_ms_parts": {"main": main[1], "triage": second[1]},
    }


def _pair(scan: dict[str, float], model: dict[str, Any]) -> dict[str, Any]:
    """A timed scan against the model-only run measured right after it: ``efficiency`` in wall time
    (what the issue targets) and ``cpu_efficiency`` in process CPU time, which neighbours sharing
    the cores change far less (model-only CPU over the scan's CPU: the pipeline's own CPU cost)."""
    return {
        "model_only_ms": model["wall_ms"],
        "model_only_parts_ms": model["wall_ms_parts"],
        "efficiency": model["wall_ms"] / scan["wall_ms"],
        "cpu_ms": scan["cpu_ms"],
        "model_only_cpu_ms": model["cpu_ms"],
        "cpu_efficiency": model["cpu_ms"] / scan["cpu_ms"] if scan["cpu_ms"] > 0 else None,
    }


def _warm_up(runner: Any, *, batch_size: int, batches: int, in_flight: int) -> None:
    """``batches`` untimed rounds of ``in_flight`` batches submitted together: every infer request
    (OpenVINO's one per CPU stream) runs once before the clock, not only the first."""
    buffers = [runner.host_buffer(batch_size) for _ in range(max(1, in_flight))]
    for buf in buffers:
        buf[:] = 0
    for _ in range(batches):
        for pending in [runner.submit(buf, batch_size) for buf in buffers]:
            pending.result()


def _timed_scan(scanner: Any, inputs: Any, *, decode_workers: int = 0) -> tuple[list[Any], dict[str, float]]:
    """Scan ``inputs`` (paths, or the session's inputs whose first image started decoding earlier)
    through one pipeline run; the results and ``wall_ms`` / ``cpu_ms`` (process CPU).

    With ``decode_workers`` the paths are prepared in that many processes, started before the clock.
    """
    if decode_workers < 1:
        start, cpu = time.perf_counter(), time.process_time()
        results = list(scanner.scan(inputs))
        return _checked(results), _elapsed(start, cpu)
    from microcalc.bench.worklist import decode_pool, prepared_in_processes

    with decode_pool(decode_workers) as pool:
        start, cpu = time.perf_counter(), time.process_time()
        prepared = prepared_in_processes(
            pool,
            list(inputs),
            reader=scanner.reader,
            settings=scanner.settings,
            patch_size=scanner.patch_size,
            workers=decode_workers,
        )
        results = list(scanner.scan_prepared(prepared))
        elapsed = _elapsed(start, cpu)  # the decode processes' CPU is not this process's: not counted
    return _checked(results), elapsed


def _elapsed(start: float, cpu: float) -> dict[str, float]:
    return {"wall_ms": (time.perf_counter() - start) * 1e3, "cpu_ms": (time.process_time() - cpu) * 1e3}


def _checked(results: list[Any]) -> list[Any]:
    for result in results:
        if result.error is not None:
            raise result.error
    return results
