"""One ``mc-bench`` run: baseline, every backend x precision x batch size, parity, end-to-end scan.

Everything is measured in the same process on the same tiles, so ratios to the baseline hold.
The order is: reference scores on the patch set, the PyTorch eager baseline, each variant (parity
first, then its batch sizes), then the scan with the fastest variant that passes parity. A
variant that cannot run here (library missing, no GPU, not in the bundle) is recorded in
``skipped`` with the reason instead of being dropped.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bench import variants
from microcalc.bench.machine import machine_info
from microcalc.bench.report import best_run
from microcalc.bench.throughput import backend_scores, measure_batches, measure_in_flight
from microcalc.errors import MicrocalcError
from microcalc.imaging.patch_sets import LabelRule, PatchSet, load_patch_set
from microcalc.parity import BOUNDS, ParityBounds, compare, roc_auc

Step = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    """What to measure (the CLI's options, validated)."""

    bundle: Path
    checkpoint: Path | None = None
    backends: tuple[str, ...] = ("onnxruntime",)
    precisions: tuple[str, ...] = ("fp32", "fp16", "int8")
    batch_sizes: tuple[int, ...] = (1, 4, 8)
    patches: tuple[Path, ...] = ()
    mammogram: Path | None = None
    scan: bool = True
    scan_stream: int = 3
    repeats: int = 5
    warmup: int = 2
    duration_s: float = (
        0.0  # > 0: trtexec's timed method with batches in flight (throughput.measure_in_flight)
    )
    warmup_ms: float = 200.0
    in_flight: int = 2
    worklist: tuple[Path, ...] = ()  # mammograms scanned in a row (default: the mammogram scan_stream times)
    decode_workers: int = 0  # > 0: the worklist is decoded and tiled in this many processes
    baseline_tiles: int = 8
    parity_limit: int | None = None
    bounds: dict[str, ParityBounds] = field(default_factory=lambda: dict(BOUNDS))
    seed: int = 0
    command: str = "mc-bench"
    tune: bool = False  # time OpenVINO's CPU configurations and store the fastest for mc-scan (bench/tune.py)

    def steps(self) -> int:
        """Progress-bar length: one step per timed repeat, parity pass and scan."""
        per_variant = 1 + self.steps_per_batch_size() * len(self.batch_sizes)
        return 2 + self.repeats + per_variant * len(self.backends) * len(self.precisions) + int(self.scan)

    def steps_per_batch_size(self) -> int:
        return 1 if self.duration_s > 0 else self.repeats


def check_engine_batches(bundle: Any, settings: BenchSettings) -> None:
    """Refuse, before measuring anything, batch sizes that a TensorRT engine's profile cannot take."""
    if "tensorrt" not in {variants.parse_backend(b)[0] for b in settings.backends}:
        return
    largest = max(settings.batch_sizes)
    for v in bundle.variants:
        top = (
            ((bundle.sidecar(v).get("profile") or {}).get("max") or [None])[0]
            if v.format == "tensorrt"
            else None
        )
        if v.precision in settings.precisions and top is not None and largest > int(top):
            raise MicrocalcError(
                f"--batch-sizes asks for {largest}, but the {v.precision} TensorRT engine "
                f"{bundle.file(v)} takes batches up to {top}: use --batch-sizes up to {top} or "
                f"rebuild it with mc-export --max-batch {largest}"
            )


def run_bench(settings: BenchSettings, *, step: Step = lambda _: None) -> dict[str, Any]:
    """Measure everything ``settings`` asks for; returns the report (see :mod:`microcalc.bench.report`)."""
    from microcalc.bench.baseline import TorchReference, measure_baseline
    from microcalc.bundle import Bundle

    bundle = Bundle.load(settings.bundle)
    check_engine_batches(bundle, settings)
    checkpoint = bundle.source_checkpoint(settings.checkpoint)
    config = bundle.config
    step("reading patches")
    patch_set = _parity_set(settings, config)
    reference = TorchReference(checkpoint)
    step("PyTorch FP32 reference scores")
    ref_scores = reference.scores(patch_set.tiles)
    bench_tiles = patch_set.tiles[: max(1, settings.baseline_tiles)]
    base = measure_baseline(
        reference,
        bench_tiles,
        repeats=settings.repeats,
        warmup=settings.warmup,
        on_step=lambda: step("baseline pytorch eager fp32"),
    )
    report: dict[str, Any] = {
        "schema": "microcalc-bench",
        "version": 1,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "command": settings.command,
        "machine": machine_info(),
        "model": {"bundle": str(bundle.path), "checkpoint": str(checkpoint), **config.to_dict()},
        "settings": {
            "backends": list(settings.backends),
            "precisions": list(settings.precisions),
            "batch_sizes": list(settings.batch_sizes),
            "repeats": settings.repeats,
            "warmup": settings.warmup,
            "method": _method(settings),
            "bounds": {k: b.to_dict() for k, b in settings.bounds.items()},
        },
        "parity_set": {
            "patches": len(patch_set),
            "positives": int((patch_set.labels == 1).sum()),
            "unlabelled": int((patch_set.labels < 0).sum()),
            "sources": [str(folder) for folder in settings.patches],
            "reference_auc": roc_auc(patch_set.labels, ref_scores),
        },
        "baseline": base,
        "runs": [],
        "skipped": [],
        "scan": None,
    }
    for name in settings.backends:
        for precision in settings.precisions:
            _bench_variant(
                report, settings, bundle, name, precision, patch_set, ref_scores, bench_tiles, step
            )
    if settings.tune:  # before the scan, which then runs the stored choice as mc-scan will
        report["tuning"] = _tune(report, bundle, bench_tiles)
    if settings.scan:
        from microcalc.bench.scan import measure_scan

        best = best_run(report)
        if best is None:
            report["scan_note"] = "no variant passed parity"
        else:
            report["scan"] = measure_scan(
                bundle,
                backend=best["backend"],
                precision=best["precision"],
                batch_size=best["batch_size"],
                mammogram=settings.mammogram,
                stream=settings.scan_stream,
                worklist=list(settings.worklist),
                decode_workers=settings.decode_workers,
            )
        step("end-to-end scan")
    return report


def _tune(report: dict[str, Any], bundle: Any, tiles: np.ndarray) -> dict[str, Any]:
    """``--tune``: the fastest passing OpenVINO run's variant and batch, through every CPU configuration."""
    from microcalc.bench.tune import tune_openvino

    runs = [r for r in report["runs"] if r["backend"] == "openvino" and r["parity"]["passed"]]
    if not runs:
        return {"note": "no OpenVINO variant ran and passed parity: nothing to tune"}
    best = max(runs, key=lambda r: r["patches_per_s"])
    return tune_openvino(bundle, precision=best["precision"], batch_size=best["batch_size"], tiles=tiles)


def _parity_set(settings: BenchSettings, config: Any) -> PatchSet:
    """Every ``--patches`` folder at the model's size (resized), each cut to ``--parity-limit``
    (class-balanced), labelled by the one rule of :mod:`microcalc.imaging.patch_sets`, as mc-export's."""
    rule = LabelRule.for_model(config.classes, config.positive_class)
    patch_set = PatchSet.empty(config.patch_size)
    for folder in settings.patches:
        patch_set = patch_set.concat(
            load_patch_set(
                folder,
                size=config.patch_size,
                rule=rule,
                fit="resize",
                limit=settings.parity_limit,
                seed=settings.seed,
            )
        )
    return patch_set


def _bench_variant(
    report: dict[str, Any],
    settings: BenchSettings,
    bundle: Any,
    name: str,
    precision: str,
    patch_set: PatchSet,
    ref_scores: np.ndarray,
    bench_tiles: np.ndarray,
    step: Step,
) -> None:
    """Append one variant's runs (one per batch size) to the report, or its reason to ``skipped``."""
    n_steps = 1 + settings.steps_per_batch_size() * len(settings.batch_sizes)
    try:
        backend = variants.start_backend(
            name, bundle, precision=precision, max_batch=max(settings.batch_sizes)
        )
    except MicrocalcError as exc:
        report["skipped"].append({"backend": name, "precision": precision, "reason": str(exc)})
        for _ in range(n_steps):
            step(f"{name} {precision}: skipped")
        return
    try:
        scores = backend_scores(backend, patch_set.tiles, batch_size=max(settings.batch_sizes))
        parity = compare(
            reference=ref_scores,
            candidate=scores,
            labels=patch_set.labels,
            threshold=bundle.threshold,
            bounds=settings.bounds.get(precision, ParityBounds()),
        ).to_dict()
        step(f"{name} {precision}: parity")
        base = report["baseline"]["patches_per_s"]
        for batch_size in settings.batch_sizes:
            if settings.duration_s > 0:
                measured = measure_in_flight(
                    backend,
                    bench_tiles,
                    batch_size=batch_size,
                    in_flight=settings.in_flight,
                    warmup_ms=settings.warmup_ms,
                    duration_s=settings.duration_s,
                )
                step(f"{name} {precision} batch {batch_size}")
            else:
                measured = measure_batches(
                    backend,
                    bench_tiles,
                    batch_size=batch_size,
                    repeats=settings.repeats,
                    warmup=settings.warmup,
                    on_step=lambda b=batch_size: step(f"{name} {precision} batch {b}"),
                )
            report["runs"].append(
                {
                    "backend": name,
                    "precision": precision,
                    "batch_size": batch_size,
                    **measured,
                    "speedup_vs_baseline": measured["patches_per_s"] / base,
                    "parity": parity,
                }
            )
    finally:
        backend.deactivate()


def _method(settings: BenchSettings) -> str:
    """How the runs were timed, in words, for the report."""
    if settings.duration_s > 0:
        return (
            f"timed: {settings.warmup_ms:g} ms warm-up, then >= {settings.duration_s:g} s with "
            f"{settings.in_flight} batches in flight"
        )
    return f"repeats: {settings.warmup} warm-up batches, then {settings.repeats} synchronous batches"
