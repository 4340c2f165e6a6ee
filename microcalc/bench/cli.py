"""``mc-bench``: command-line entry point (options only; the work is in :mod:`microcalc.bench.runner`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from microcalc.atomic import write_text_atomic
from microcalc.bench.markdown import render
from microcalc.bench.progress import progress_bar
from microcalc.bench.report import write_json
from microcalc.bench.runner import BenchSettings, run_bench
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.defaults import default_bundle, real_patches_dir
from microcalc.engine.backends.base import PRECISIONS
from microcalc.engine.backends.torch import TORCH_PRECISIONS
from microcalc.engine.inputs import expand_inputs
from microcalc.parity import BOUNDS, ParityBounds

REAL_PATCHES = real_patches_dir()
DEFAULT_BACKENDS = "onnxruntime,openvino,tensorrt"
# the bundle's precisions, and bf16, which only torch runs (the checkpoint under autocast)
BENCH_PRECISIONS = tuple(dict.fromkeys(PRECISIONS + TORCH_PRECISIONS["cuda"]))


def _list(kind: str, convert=str):
    def parse(ctx: click.Context, param: click.Parameter, value: str) -> tuple:
        try:
            items = tuple(convert(v.strip()) for v in value.split(",") if v.strip())
        except ValueError:
            raise click.BadParameter(f"{value!r} is not a comma-separated list of {kind}") from None
        if not items:
            raise click.BadParameter(f"{value!r} names no {kind}")
        return items

    return parse


def _precisions(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    items = _list("precisions")(ctx, param, value)
    bad = [p for p in items if p not in BENCH_PRECISIONS]
    if bad:
        raise click.BadParameter(f"unknown precision {bad[0]!r}; choose from {', '.join(BENCH_PRECISIONS)}")
    return items


def _batch_sizes(ctx: click.Context, param: click.Parameter, value: str) -> tuple[int, ...]:
    items = _list("batch sizes", int)(ctx, param, value)
    if min(items) < 1:
        raise click.BadParameter(f"batch sizes must be at least 1, got {value!r}")
    return tuple(sorted(set(items)))


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--model",
    "bundle",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle from mc-export [default: $MICROCALC_BUNDLE or ~/.microcalc/bundle].",
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=None,
    help="PyTorch checkpoint for the baseline and the parity reference [default: the bundle's source].",
)
@click.option(
    "--backends",
    default=DEFAULT_BACKENDS,
    show_default=True,
    callback=_list("backends"),
    help="Backends to measure (onnxruntime, openvino, tensorrt, torch; -cuda runs onnxruntime or torch on "
    "the GPU); those that cannot run here are listed with the reason.",
)
@click.option(
    "--precisions",
    default="fp32,fp16,int8",
    show_default=True,
    callback=_precisions,
    help="Precisions to measure (fp32, fp16, int8; bf16 for torch-cuda).",
)
@click.option("--batch-sizes", default="1,4,8", show_default=True, callback=_batch_sizes)
@click.option(
    "--patches",
    "patch_dirs",
    multiple=True,
    type=click.Path(path_type=Path, file_okay=False),
    help="Labelled patch folder for parity (cluster/ and normal/); repeatable "
    "[default: synthetic patches, plus ../shared/data/real_patches when present].",
)
@click.option(
    "--synthetic-patches",
    type=click.IntRange(min=2),
    default=100,
    show_default=True,
    help="How many synthetic patches to generate when --patches is not given.",
)
@click.option(
    "--parity-limit",
    type=click.IntRange(min=2),
    default=None,
    help="Use at most this many patches per folder (class-balanced).",
)
@click.option(
    "--mammogram",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="DICOM to scan end to end [default: a synthetic 4096x3328 mammogram].",
)
@click.option("--no-scan", is_flag=True, help="Skip the end-to-end scan.")
@click.option(
    "--scan-stream",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Also scan the mammogram this many times in one run, as a worklist (1: single scan only).",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Timed batches per batch size (and baseline passes over the tiles).",
)
@click.option(
    "--warmup",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Untimed batches before the repeats.",
)
@click.option(
    "--duration",
    "duration_s",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Seconds to time each batch size with batches in flight, as trtexec (0: --repeats instead).",
)
@click.option(
    "--warmup-ms",
    type=click.FloatRange(min=0),
    default=200.0,
    show_default=True,
    help="With --duration: warm-up time before timing.",
)
@click.option(
    "--in-flight",
    type=click.IntRange(min=1),
    default=2,
    show_default=True,
    help="With --duration: batches kept submitted at once.",
)
@click.option(
    "--worklist",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=None,
    help="Folder of mammograms to scan in a row, as mc-scan finds them [default: the mammogram "
    "--scan-stream times].",
)
@click.option(
    "--decode-workers",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Processes that decode and tile the worklist (0: the scanner's decode thread).",
)
@click.option(
    "--baseline-tiles",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Tiles the baseline and the variants are timed on.",
)
@click.option(
    "--fp32-max-diff",
    type=float,
    default=BOUNDS["fp32"].max_abs_diff,
    show_default=True,
    help="FP32 parity: max |dp|.",
)
@click.option(
    "--fp16-max-diff",
    type=float,
    default=BOUNDS["fp16"].max_abs_diff,
    show_default=True,
    help="FP16 parity: max |dp|.",
)
@click.option(
    "--bf16-max-diff",
    type=float,
    default=BOUNDS["bf16"].max_abs_diff,
    show_default=True,
    help="BF16 parity: max |dp|.",
)
@click.option(
    "--int8-agreement",
    type=float,
    default=BOUNDS["int8"].min_label_agreement,
    show_default=True,
    help="INT8 parity: minimum label agreement.",
)
@click.option(
    "--int8-delta-auc",
    type=float,
    default=BOUNDS["int8"].max_abs_delta_auc,
    show_default=True,
    help="INT8 parity: max |dAUC|.",
)
@click.option(
    "--target-speedup",
    type=float,
    default=12.0,
    show_default=True,
    help="Speed-up over the baseline the Markdown checks the best passing variant against.",
)
@click.option(
    "--target-efficiency",
    type=float,
    default=0.9,
    show_default=True,
    help="Pipeline efficiency the Markdown checks the scan against.",
)
@click.option(
    "--target-fp16-patches-per-s",
    type=float,
    default=None,
    help="FP16 throughput the Markdown checks the fastest passing FP16 run against (e.g. 2000 on an H100).",
)
@click.option(
    "--target-images-per-s",
    type=float,
    default=None,
    help="Worklist mammograms per second the Markdown checks the end-to-end scan against.",
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="JSON report.")
@click.option(
    "--markdown",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Markdown report (the tables of benchmarks/RESULTS.md).",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of the synthetic patches and mammogram."
)
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
    fp32_max_diff: float,
    fp16_max_diff: float,
    bf16_max_diff: float,
    int8_agreement: float,
    int8_delta_auc: float,
    target_speedup: float,
    target_efficiency: float,
    target_fp16_patches_per_s: float | None,
    target_images_per_s: float | None,
    out: Path | None,
    markdown: Path | None,
    seed: int,
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

    bounds = {
        "fp32": ParityBounds(max_abs_diff=fp32_max_diff),
        "fp16": ParityBounds(max_abs_diff=fp16_max_diff),
        "bf16": ParityBounds(max_abs_diff=bf16_max_diff),
        "int8": ParityBounds(min_label_agreement=int8_agreement, max_abs_delta_auc=int8_delta_auc),
    }
    worklist_files = tuple(expand_inputs([str(worklist)])) if worklist else ()
    if worklist and not worklist_files:
        raise click.BadParameter(f"{worklist} holds no DICOM, PNG or TIFF image", param_hint="--worklist")
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
            parity_limit=parity_limit,
            bounds=bounds,
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
