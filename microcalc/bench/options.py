"""``mc-bench``'s options, in the groups its help lists them: what to measure, on what, how, against what.

The parity bounds are options made from :data:`microcalc.parity.BOUNDS` (their defaults) and turned
back into :class:`~microcalc.parity.ParityBounds` by :func:`bounds_from`, through one table, so an
option can never set a bound other than the one it names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import click

from microcalc.bench.variants import bench_names
from microcalc.cli_common import option_group
from microcalc.engine.backends import registry
from microcalc.parity import BOUNDS, ParityBounds

# every registered backend but the slow reference (torch), which is measured when asked for
DEFAULT_BACKENDS = ",".join(n for n in registry.names() if not registry.get(n).reference)
# every precision some backend runs: the bundle's, and bf16, which only torch runs (autocast)
BENCH_PRECISIONS = registry.precisions()
# option -> (precision, ParityBounds field, help); the option's parameter name is its flag in snake case
BOUND_OPTIONS = {
    "--fp32-max-diff": ("fp32", "max_abs_diff", "FP32 parity: max |dp|."),
    "--fp16-max-diff": ("fp16", "max_abs_diff", "FP16 parity: max |dp|."),
    "--bf16-max-diff": ("bf16", "max_abs_diff", "BF16 parity: max |dp|."),
    "--int8-agreement": ("int8", "min_label_agreement", "INT8 parity: minimum label agreement."),
    "--int8-delta-auc": ("int8", "max_abs_delta_auc", "INT8 parity: max |dAUC|."),
}


def _list(kind: str, convert: Callable = str) -> Callable:
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


def _param_name(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def bounds_from(values: Mapping[str, float]) -> dict[str, ParityBounds]:
    """The bounds the parity options (parameter name -> value) set, per precision."""
    fields: dict[str, dict[str, float]] = {}
    for flag, (precision, field, _) in BOUND_OPTIONS.items():
        fields.setdefault(precision, {})[field] = values[_param_name(flag)]
    return {precision: ParityBounds(**given) for precision, given in fields.items()}


variant_options = option_group(
    click.option(
        "--checkpoint",
        type=click.Path(path_type=Path),
        default=None,
        help="PyTorch checkpoint for the baseline and the parity reference [default: the bundle's source].",
    ),
    click.option(
        "--backends",
        default=DEFAULT_BACKENDS,
        callback=_list("backends"),
        help=f"Backends to measure ({', '.join(bench_names())}); those that cannot run here are listed "
        "with the reason.",
    ),
    click.option(
        "--precisions",
        default="fp32,fp16,int8",
        callback=_precisions,
        help=f"Precisions to measure ({', '.join(BENCH_PRECISIONS)}; bf16 for torch-cuda).",
    ),
    click.option("--batch-sizes", default="1,4,8", callback=_batch_sizes),
)

parity_set_options = option_group(
    click.option(
        "--patches",
        "patch_dirs",
        multiple=True,
        type=click.Path(path_type=Path, file_okay=False),
        help="Labelled patch folder for parity (cluster/ and normal/); repeatable "
        "[default: synthetic patches, plus ../shared/data/real_patches when present].",
    ),
    click.option(
        "--synthetic-patches",
        type=click.IntRange(min=2),
        default=100,
        help="How many synthetic patches to generate when --patches is not given.",
    ),
    click.option(
        "--parity-limit",
        type=click.IntRange(min=2),
        default=None,
        help="Use at most this many patches per folder (class-balanced).",
    ),
)

scan_input_options = option_group(
    click.option(
        "--mammogram",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="DICOM to scan end to end [default: a synthetic 4096x3328 mammogram].",
    ),
    click.option("--no-scan", is_flag=True, help="Skip the end-to-end scan."),
    click.option(
        "--scan-stream",
        type=click.IntRange(min=1),
        default=3,
        help="Also scan the mammogram this many times in one run, as a worklist (1: single scan only).",
    ),
)

timing_options = option_group(
    click.option(
        "--repeats",
        type=click.IntRange(min=1),
        default=5,
        help="Timed batches per batch size (and baseline passes over the tiles).",
    ),
    click.option(
        "--warmup", type=click.IntRange(min=0), default=2, help="Untimed batches before the repeats."
    ),
    click.option(
        "--duration",
        "duration_s",
        type=click.FloatRange(min=0),
        default=0.0,
        help="Seconds to time each batch size with batches in flight, as trtexec (0: --repeats instead).",
    ),
    click.option(
        "--warmup-ms",
        type=click.FloatRange(min=0),
        default=200.0,
        help="With --duration: warm-up time before timing.",
    ),
    click.option(
        "--in-flight",
        type=click.IntRange(min=1),
        default=2,
        help="With --duration: batches kept submitted at once.",
    ),
)

worklist_options = option_group(
    click.option(
        "--worklist",
        type=click.Path(path_type=Path, file_okay=False, exists=True),
        default=None,
        help="Folder of mammograms to scan in a row, as mc-scan finds them [default: the mammogram "
        "--scan-stream times].",
    ),
    click.option(
        "--decode-workers",
        type=click.IntRange(min=0),
        default=0,
        help="Processes that decode and tile the worklist (0: the scanner's decode thread).",
    ),
    click.option(
        "--tune",
        is_flag=True,
        help="Time OpenVINO's CPU configurations (hint x thread pinning) on this host as mc-scan runs "
        "them and store the fastest, which mc-scan then uses for this model here (MICROCALC_HOME/tuning).",
    ),
    click.option(
        "--baseline-tiles",
        type=click.IntRange(min=1),
        default=8,
        help="Tiles the baseline and the variants are timed on.",
    ),
)

parity_bound_options = option_group(
    *(
        click.option(flag, type=float, default=getattr(BOUNDS[precision], field), help=text)
        for flag, (precision, field, text) in BOUND_OPTIONS.items()
    )
)

target_options = option_group(
    click.option(
        "--target-speedup",
        type=float,
        default=12.0,
        help="Speed-up over the baseline the Markdown checks the best passing variant against.",
    ),
    click.option(
        "--target-efficiency",
        type=float,
        default=0.9,
        help="Pipeline efficiency the Markdown checks the scan against.",
    ),
    click.option(
        "--target-fp16-patches-per-s",
        type=float,
        default=None,
        help="FP16 throughput the Markdown checks the fastest passing FP16 run against (e.g. 2000 on an "
        "H100).",
    ),
    click.option(
        "--target-images-per-s",
        type=float,
        default=None,
        help="Worklist mammograms per second the Markdown checks the end-to-end scan against.",
    ),
)

report_options = option_group(
    click.option("--out", type=click.Path(path_type=Path, dir_okay=False), default=None, help="JSON report."),
    click.option(
        "--markdown",
        type=click.Path(path_type=Path, dir_okay=False),
        default=None,
        help="Markdown report (the tables of benchmarks/RESULTS.md).",
    ),
)
