"""``export_bundle``: checkpoint -> bundle folder, with parity proven before anything is published.

Everything is built in a temporary folder next to the target and renamed into place only when
every variant has passed its parity bound, so a failed export leaves no partial bundle.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import microcalc
from microcalc.atomic import commit_dir, staging_dir
from microcalc.bundle import (
    MANIFEST,
    Variant,
    file_sha256,
    write_json_atomic,
    write_manifest,
)
from microcalc.errors import InputError
from microcalc.export import parity
from microcalc.export.parity_patches import label_rule, parity_set
from microcalc.export.source import ExportSource, load_source
from microcalc.export.tensorrt_build import Profile
from microcalc.export.triage import export_triage
from microcalc.imaging.patch_sets import PatchSet, load_patch_set
from microcalc.parity import BOUNDS, ParityBounds, not_checked

ONNX_FILES = {"fp32": "model.onnx", "fp16": "model.fp16.onnx", "int8": "model.int8.onnx"}


@dataclass
class ExportOptions:
    """What ``mc-export`` was asked for (one field per option)."""

    fp16: bool = False
    int8: bool = False
    calib: Path | None = None
    calib_method: str = "minmax"
    calib_size: int = 512
    trt: bool = False
    profile: Profile = field(default_factory=Profile)
    opset: int = 17
    check_parity: bool = True
    bounds: dict[str, ParityBounds] = field(default_factory=lambda: dict(BOUNDS))
    seed: int = 0
    model_spacing_mm: float | None = None
    triage: Path | None = None  # a triage checkpoint (mc-train --arch triagecnn): adds triage.onnx
    triage_point: str = "most-sensitive"  # its operating point whose threshold skips tiles (export/triage.py)


def export_bundle(
    checkpoint_path: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    options: ExportOptions,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Export ``checkpoint_path`` (one checkpoint, or several of one architecture: an ensemble whose
    graph averages their outputs, :mod:`microcalc.export.source`) to the bundle folder ``out``; returns
    the manifest.

    Raises:
        InputError: bad checkpoint, mismatched ensemble members, calibration folder or output folder.
        parity.ParityError: a variant is outside its bound (nothing is written).
        MissingDependencyError: ``--trt`` without TensorRT or TensorRT-RTX.
    """
    paths = [checkpoint_path] if isinstance(checkpoint_path, (str, Path)) else list(checkpoint_path)
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MANIFEST).is_file())):
        raise InputError(f"{out}: exists and is not a model bundle; choose another --out")
    trt_lib = None
    if options.trt:
        from microcalc.export.tensorrt_build import import_tensorrt

        trt_lib = import_tensorrt()[1]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    source = load_source(paths, model_spacing_mm=options.model_spacing_mm)
    config = source.config
    if source.is_ensemble:
        log(f"ensemble of {len(paths)} {config.arch} checkpoints: one graph averaging p_cluster and cam")
    calib = None
    if options.calib is not None:
        calib = load_patch_set(
            options.calib,
            size=config.patch_size,
            rule=label_rule(config),
            limit=options.calib_size,
            seed=options.seed,
        )
        if len(calib) < 300:
            log(
                f"note: {len(calib)} calibration patches from {options.calib}; a few hundred or more are "
                "recommended for INT8"
            )
    patches = parity_set(calib, config, seed=options.seed)
    staging = staging_dir(out)
    log(
        f"model pixel spacing: {config.pixel_spacing_mm:g} mm"
        if config.pixel_spacing_mm
        else "model pixel spacing: none recorded (--model-spacing sets it); mc-scan will scan at each "
        "image's native grid"
    )
    try:
        manifest = _build(staging, source, calib, patches, trt_lib, options, timings, log)
        if options.triage is not None:
            entry = _timed(
                timings,
                "triage_s",
                partial(
                    export_triage,
                    options.triage,
                    staging,
                    main=config,
                    point_name=options.triage_point,
                    opset=options.opset,
                    seed=options.seed,
                ),
            )
            manifest["triage"] = entry.to_dict()
            log(
                f"triage: {entry.arch} at {entry.point.name} (threshold {entry.threshold:.4g}), parity passed"
            )
        timings["total_s"] = time.perf_counter() - t0
        manifest["export_timings_s"] = {k: round(v, 3) for k, v in timings.items()}
        write_json_atomic(staging / MANIFEST, manifest)
        commit_dir(staging, out, marker=MANIFEST)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def _timed(timings: dict[str, float], key: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = fn()
    timings[key] = time.perf_counter() - start
    return result


def _build(
    staging: Path,
    source: ExportSource,
    calib: PatchSet | None,
    patches: PatchSet,
    trt_lib: str | None,
    options: ExportOptions,
    timings: dict[str, float],
    log: Callable[[str], None],
) -> dict[str, Any]:
    from microcalc.export.fp16 import convert_fp16
    from microcalc.export.int8 import quantize_int8
    from microcalc.export.onnx_graph import export_onnx, output_spec

    config = source.config
    precisions = ["fp32"] + (["fp16"] if options.fp16 else []) + (["int8"] if options.int8 else [])
    fp32 = staging / ONNX_FILES["fp32"]
    _timed(
        timings,
        "fp32_s",
        lambda: export_onnx(source.tile_model, fp32, patch_size=config.patch_size, opset=options.opset),
    )
    if options.fp16:
        _timed(timings, "fp16_s", lambda: convert_fp16(fp32, staging / ONNX_FILES["fp16"]))
    if options.int8:
        _timed(
            timings,
            "int8_s",
            lambda: quantize_int8(
                fp32, staging / ONNX_FILES["int8"], tiles=calib.tiles, method=options.calib_method
            ),
        )
    reference = (
        parity.batched(source.reference(), patches.tiles)
        if options.check_parity or (source.is_ensemble and calib is not None and calib.labelled)
        else None
    )
    points = source.operating_points(calib, reference)
    if source.is_ensemble:
        log(
            f"ensemble operating points: {', '.join(points.names)} (recomputed on the --calib patches)"
            if points
            else "ensemble operating points: none yet (mc-froc BUNDLE CASES --calibrate, or mc-export "
            "--calib with labelled patches held out from every member)"
        )
    variants: list[Variant] = []
    report: dict[str, Any] = {"patches": len(patches), "labelled": patches.labelled, "variants": {}}
    for precision in precisions:
        path = staging / ONNX_FILES[precision]
        record = (
            not_checked("mc-export --no-parity")
            if not options.check_parity
            else parity.check_variant(
                precision,
                reference=reference,
                path=path,
                patches=patches,
                threshold=config.threshold,
                bounds=options.bounds[precision],
                log=log,
            )
        )
        report["variants"][precision] = record
        variants.append(
            Variant(
                name=precision,
                format="onnx",
                precision=precision,
                file=path.name,
                sha256=file_sha256(path),
                parity=record,
            )
        )
    if trt_lib is not None:
        from microcalc.export.tensorrt_build import engine_variants

        variants += engine_variants(
            staging,
            variants,
            library=trt_lib,
            patch_size=config.patch_size,
            profile=options.profile,
            timings=timings,
            log=log,
        )
    write_json_atomic(staging / "parity.json", report)
    input_spec, outputs = output_spec(fp32)
    manifest = write_manifest(
        staging,
        config=config,
        input_spec=input_spec,
        outputs=outputs,
        variants=variants,
        source_checkpoint=source.source_record(),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        microcalc_version=microcalc.__version__,
        operating_points=points,
    )
    ensemble = source.ensemble_record()
    return manifest if ensemble is None else {**manifest, "ensemble": ensemble}
