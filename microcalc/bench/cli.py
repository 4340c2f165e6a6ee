"""``mc-bench``: command-line entry point (options only; the work is in :mod:`microcalc.bench.runner`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from microcalc.atomic import write_text_atomic
from microcalc.bench.markdown import render
from microcalc.bench.options import (
    bounds_from,
    parity_bound_options,
    parity_set_options,
    report_options,
    scan_input_options,
    target_options,
    timing_options,
    variant_options,
    worklist_options,
)
from microcalc.bench.progress import progress_bar
from microcalc.bench.report import write_json
from microcalc.bench.runner import BenchSettings, run_bench
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import bundle_option, seed_option
from microcalc.defaults import default_bundle, real_patches_dir
from microcalc.engine.inputs import expand_inputs

REAL_PATCHES = real_patches_dir()


@click.command(context_settings=CONTEXT_SETTINGS)
@bundle_option("bundle")
@variant_options
@parity_set_options
@scan_input_options
@timing_options
@worklist_options
@parity_bound_options
@target_options
@report_options
@seed_option(help_text="Seed of the synthetic patches and mammogram.")
def cli(
    *,
    bundle: Path | None,
    checkpoint: Path | None,
    backends: tuple[str, ...],
    precisions: tuple[str, ...],
    batch_sizes: tuple[int, ...],
    patch_dirs: tuple[Path, ...],
    synthetic_patches: int,
    parity_limit: int | None,
    mammogram: Path | None,
    no_scan: bool,
    scan_stream: int,
    repeats: int,
    warmup: int,
    duration_s: float,
    warmup_ms: float,
    in_flight: int,
    worklist: Path | None,
    decode_workers: int,
    baseline_tiles: int,
    tune: bool,
    target_speedup: float,
    target_efficiency: float,
    target_fp16_patches_per_s: float | None,
    target_images_per_s: float | None,
    out: Path | None,
    markdown: Path | None,
    seed: int,
    **parity_limits: float,
) -> None:
    """Measure which backend and precision to deploy here, and prove the engine is still right.

    For each backend x precision x batch size: patches per second (median of repeats after
    warm-up), latency per batch p50/p90/p99 (and host-to-device / compute / device-to-host on a
    GPU), and the ratio to PyTorch eager FP32 run tile by tile in the same process. Each variant's
    parity against PyTorch FP32 on a labelled patch set is marked pass or fail against the bounds.
    Then a whole mammogram is scanned with the fastest passing variant: per-stage times, the
    model-only time for the same tiles and the pipeline efficiency (model-only / end-to-end).

    On a GPU, time as trtexec does: --duration 3 --warmup-ms 200 --in-flight 3.

    Example: mc-bench --model bundle/ --batch-sizes 1,8 --out report.json --markdown report.md
    """
    from microcalc.bench.inputs import bench_inputs
    from microcalc.bundle import Bundle

    worklist_files = tuple(expand_inputs([str(worklist)])) if worklist else ()
    if worklist and not worklist_files:
        raise click.BadParameter(
            f"{worklist} holds no DICOM, PNG, PGM or TIFF image", param_hint="--worklist"
        )
    bundle_dir = bundle or default_bundle()
    patch_size = Bundle.load(bundle_dir, verify=False).config.patch_size
    with bench_inputs(
        patch_dirs,
        mammogram,
        patch_size=patch_size,
        count=synthetic_patches,
        seed=seed,
        real=REAL_PATCHES,
        scan=not no_scan,
    ) as (folders, scan_image):
        settings = BenchSettings(
            bundle=bundle_dir,
            checkpoint=checkpoint,
            backends=backends,
            precisions=precisions,
            batch_sizes=batch_sizes,
            patches=tuple(folders),
            mammogram=scan_image,
            scan=not no_scan,
            scan_stream=scan_stream,
            repeats=repeats,
            warmup=warmup,
            duration_s=duration_s,
            warmup_ms=warmup_ms,
            in_flight=in_flight,
            worklist=worklist_files,
            decode_workers=decode_workers,
            baseline_tiles=baseline_tiles,
            tune=tune,
            parity_limit=parity_limit,
            bounds=bounds_from(parity_limits),
            seed=seed,
            command=shlex.join(["mc-bench", *sys.argv[1:]]),
        )
        with progress_bar(settings.steps()) as step:
            report = run_bench(settings, step=step)
    text = render(
        report,
        min_speedup=target_speedup,
        min_efficiency=target_efficiency,
        min_patches_per_s={"fp16": target_fp16_patches_per_s} if target_fp16_patches_per_s else None,
        min_images_per_s=target_images_per_s,
    )
    if out is not None:
        write_json(report, out)
    if markdown is not None:
        write_text_atomic(markdown, text)
    click.echo(text)


main = run_cli(cli, "mc-bench")
