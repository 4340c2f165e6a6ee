"""mc-export: turn a checkpoint into a model bundle (ONNX FP32/FP16/INT8, TensorRT engines)."""

from __future__ import annotations

from pathlib import Path

import click

from microcalc import defaults
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import seed_option
from microcalc.export.int8 import CALIB_METHODS

PATH = click.Path(path_type=Path)


@click.command(context_settings=CONTEXT_SETTINGS)
@click.option(
    "--checkpoint",
    type=PATH,
    multiple=True,
    help="Checkpoint to export (ours, published Microcalc-Detect .tar, or torchvision). Repeat it for an "
    "ensemble: checkpoints of one architecture and patch size (e.g. 3 training seeds) in one graph that "
    "averages their p_cluster and cam. [default: $MICROCALC_CHECKPOINT or ~/.microcalc/checkpoint.pt]",
)
@click.option(
    "--out",
    type=PATH,
    default=None,
    help="Bundle folder to write. [default: $MICROCALC_BUNDLE or ~/.microcalc/bundle, what mc-scan reads]",
)
@click.option("--fp16", is_flag=True, help="Add model.fp16.onnx (uint8 in, float32 out, FP16 inside).")
@click.option("--int8", is_flag=True, help="Add model.int8.onnx with Q/DQ nodes calibrated on --calib.")
@click.option(
    "--calib",
    type=PATH,
    default=None,
    help="Folder of real patches (PNG/PGM/TIFF/DICOM; a few hundred recommended) for INT8 "
    "calibration and parity; sub-folders name the class.",
)
@click.option("--calib-method", type=click.Choice(CALIB_METHODS), default="minmax")
@click.option(
    "--calib-size",
    type=click.IntRange(min=1),
    default=512,
    help="Use at most this many calibration patches (a seeded random subset).",
)
@click.option(
    "--trt", is_flag=True, help="Also build a TensorRT engine per precision (tensorrt or tensorrt_rtx)."
)
@click.option("--min-batch", type=click.IntRange(min=1), default=1)
@click.option("--opt-batch", type=click.IntRange(min=1), default=8)
@click.option("--max-batch", type=click.IntRange(min=1), default=16)
@click.option("--opset", type=click.IntRange(min=13), default=17)
@click.option(
    "--no-parity",
    is_flag=True,
    help="Skip the parity check against PyTorch (not recommended): the variants are recorded "
    "as unchecked and --precision auto never picks fp16 or int8.",
)
@click.option(
    "--model-spacing",
    type=float,
    default=None,
    help="Pixel spacing in mm the model was trained at, for checkpoints that record none (published, "
    "torchvision). Without one, mc-scan scans every image at its native grid.",
)
@click.option(
    "--triage",
    type=PATH,
    default=None,
    help="Triage checkpoint (mc-train --arch triagecnn) to add as triage.onnx: mc-scan then sends only "
    "the tiles it cannot rule out to the main model.",
)
@click.option(
    "--triage-point",
    default="most-sensitive",
    help="The triage checkpoint's operating point whose threshold skips a tile (most-sensitive: its "
    "patch-level point with the lowest threshold, so the highest validation sensitivity).",
)
@seed_option()
def cli(
    *,
    checkpoint: tuple[Path, ...],
    out: Path | None,
    fp16: bool,
    int8: bool,
    calib: Path | None,
    calib_method: str,
    calib_size: int,
    trt: bool,
    min_batch: int,
    opt_batch: int,
    max_batch: int,
    opset: int,
    no_parity: bool,
    model_spacing: float | None,
    triage: Path | None,
    triage_point: str,
    seed: int,
) -> None:
    """Export a checkpoint to a model bundle, proving parity with PyTorch.

    FP32 ONNX is always written; the graph takes raw uint8 tiles [N,1,P,P] and returns p_cluster [N]
    and the cluster activation map cam [N,h,w]. Each variant is compared with the PyTorch FP32 model
    on the --calib patches (or synthetic tiles plus ../shared/data/real_patches) and the export fails,
    writing nothing, when FP32 differs by more than 1e-4 or FP16 by more than 1e-2, or when INT8
    decisions agree on fewer than 99% of the patches or its AUC moves by more than 0.005 (INT8
    needs labelled patches: class sub-folders). Each variant's verdict is recorded in bundle.json;
    mc-scan --precision auto uses only variants that passed.
    The bundle carries the model's pixel spacing (from the checkpoint, or --model-spacing), to which
    mc-scan resamples images.

    Example: mc-export --checkpoint run/checkpoint.pt --out bundle --fp16 --int8 --calib patches/ --trt
    Example: mc-export --checkpoint PRETRAINED_RESNET101.tar --out bundle --model-spacing 0.07

    Example: mc-export --checkpoint run/checkpoint.pt --out bundle --triage triage_run/checkpoint.pt

    An ensemble bundle records its members (SHA-256, seed) and gets its operating points anew: patch
    points from labelled --calib patches, image points from mc-froc --calibrate (never the members').

    Example: mc-export --checkpoint s0/checkpoint.pt --checkpoint s1/checkpoint.pt --checkpoint
    s2/checkpoint.pt --out ensemble
    """
    from microcalc.export.pipeline import ExportOptions, export_bundle
    from microcalc.export.tensorrt_build import Profile

    if int8 and calib is None:
        raise click.UsageError("--int8 needs --calib DIR (a folder of real patches)")
    try:
        profile = Profile(min_batch=min_batch, opt_batch=opt_batch, max_batch=max_batch)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    checkpoints = list(checkpoint) or [defaults.default_checkpoint()]
    out = out or defaults.default_bundle()
    options = ExportOptions(
        fp16=fp16,
        int8=int8,
        calib=calib,
        calib_method=calib_method,
        calib_size=calib_size,
        trt=trt,
        profile=profile,
        opset=opset,
        check_parity=not no_parity,
        seed=seed,
        model_spacing_mm=model_spacing,
        triage=triage,
        triage_point=triage_point,
    )
    manifest = export_bundle(checkpoints, out, options=options, log=lambda line: click.echo(line, err=True))
    names = ", ".join(v["name"] for v in manifest["variants"])
    click.echo(f"{out}: {names} ({manifest['export_timings_s']['total_s']:.1f} s)")


main = run_cli(cli, "mc-export")
