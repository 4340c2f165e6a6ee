"""``mc-scan``: find suspicious microcalcification clusters in mammograms."""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microcalc.atomic import ensure_output_dir
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import bundle_option, out_dir_option
from microcalc.defaults import default_bundle
from microcalc.engine.first_decode import FirstDecode
from microcalc.engine.inputs import expand_inputs
from microcalc.engine.pipeline import Scanner, ScanSettings
from microcalc.engine.report import RunInfo, unique_stems
from microcalc.engine.scan_console import finish, refuse, summary_table
from microcalc.engine.scan_options import (
    scan_options,
    settings_from_options,
    spacing_options,
    threshold_options,
    triage_option,
)
from microcalc.operating_points import ChosenPoint, identify, point_label
from microcalc.report_sr.document import highdicom

ISOLATION_CHOICES = ("process", "none")


def open_backend(
    name: str, precision: str, bundle: Any, *, max_batch: int
) -> tuple[Any, dict[str, str], str]:
    """Resolve ``auto`` choices (:mod:`~microcalc.engine.backends.selection`), create the backend (inactive).

    Returns the backend, the identity of the model file it runs (name, precision, SHA-256) and
    one line saying what was chosen and why.
    """
    from microcalc.engine.backends import selection

    choice = selection.resolve(name, precision, bundle=bundle)
    backend = selection.create_backend(
        choice.backend, bundle, precision=choice.precision, max_batch=max_batch, device=choice.device
    )
    if choice.backend == "torch":
        model = {"name": "checkpoint", "precision": choice.precision, "sha256": bundle.source_sha256 or ""}
    else:
        variant = bundle.variant(
            precision=choice.precision, fmt="tensorrt" if choice.backend == "tensorrt" else "onnx"
        )
        model = {"name": variant.name, "precision": variant.precision, "sha256": variant.sha256}
    return backend, model, f"{choice.backend} {choice.precision} on {choice.device} ({choice.reason})"


def open_run(
    bundle: Any, *, backend: str, precision: str, settings: ScanSettings, point: ChosenPoint | None = None
) -> tuple[Any, RunInfo, str]:
    """The backend (not yet active), the :class:`RunInfo` its reports share, and the line saying what was
    chosen.

    One function for ``mc-scan`` and for each model actor of ``mc-scan --ray``. ``point`` is the
    operating point the threshold came from; without it, it is identified from the bundle's points.
    """
    point = point or identify(bundle.operating_points, settings.threshold, fallback=bundle.threshold)
    runner, model_file, chosen = open_backend(backend, precision, bundle, max_batch=settings.batch_size)
    run = RunInfo(
        bundle=str(bundle.path),
        model_sha256=model_file["sha256"],
        arch=bundle.config.arch,
        patch_size=bundle.config.patch_size,
        variant=model_file["name"],
        backend=runner.name,
        precision=model_file["precision"],
        threshold=settings.threshold,
        overlap=settings.overlap,
        min_breast=settings.min_breast,
        batch_size=settings.batch_size,
        operating_point=point.to_dict(),
        runtime=runner.runtime(),
    )
    return runner, run, chosen


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("inputs", nargs=-1, required=True)
@bundle_option()
@scan_options
@threshold_options
@triage_option
@out_dir_option(default=Path("scans"), help="Folder for <input stem>.json and <input stem>.png.")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the reports as JSON instead of the summary table."
)
@click.option(
    "--force",
    is_flag=True,
    help="Scan DICOM images whose Modality is not MG and whose SOP class is not mammography.",
)
@click.option(
    "--decode-timeout",
    type=float,
    default=ScanSettings.decode_timeout_s,
    help="Seconds one input may take to read and decode before it is refused and abandoned.",
)
@click.option(
    "--isolation",
    type=click.Choice(ISOLATION_CHOICES),
    default="process",
    help="process: decode in a worker process that is killed on a hang or crash; none: in this "
    "process (a hung decoder is abandoned but keeps running, a crashing one ends the scan).",
)
@click.option(
    "--sr",
    is_flag=True,
    help='Also write OUT/<stem>.sr.dcm, a DICOM Mammography CAD SR (needs pip install "microcalc[dicom]").',
)
@click.option(
    "--ray",
    "ray_address",
    metavar="auto|ADDRESS",
    default=None,
    help="Scan on a Ray cluster (auto: join the running one or start a local one); resumable, "
    "adds OUT/findings.parquet and OUT/errors.parquet; INPUT may be a .csv/.parquet manifest "
    'with a path column. Needs pip install "microcalc[cluster]".',
)
@click.option(
    "--actors", type=int, default=None, help="With --ray: model actors [default: one per GPU, else 1]."
)
@click.option(
    "--zoom/--no-zoom",
    default=True,
    help="Also write OUT/<stem>.zoom<rank>.png per finding: the scanned image a few mm around its box, "
    "unscaled, listed in the report's 'zoom'.",
)
@click.option("--heatmap", is_flag=True, help="Draw the tile heat map (scores >= 0.1) on the overview PNG.")
@spacing_options
def cli(
    inputs: tuple[str, ...],
    *,
    model: Path | None,
    backend: str,
    precision: str,
    overlap: float,
    batch_size: int,
    operating_point: str | None,
    threshold: float | None,
    triage: bool | None,
    min_breast: float,
    out_dir: Path,
    as_json: bool,
    force: bool,
    decode_timeout: float,
    isolation: str,
    sr: bool,
    ray_address: str | None,
    actors: int | None,
    zoom: bool,
    heatmap: bool,
    spacing: float | None,
    native_grid: bool,
) -> None:
    """Scan mammograms (DICOM, PNG, PGM, TIFF; files, folders or globs) for microcalcification clusters.

    Each image is first resampled to the model's pixel spacing (from its DICOM header, or
    --spacing for PNG/PGM/TIFF), then cut into model-sized tiles over the breast, streamed through
    one loaded model, and reported as OUT/<stem>.json (findings with boxes in pixels and mm,
    scores, timings), OUT/<stem>.png (the mammogram with each finding outlined, rank and score
    beside it) and OUT/<stem>.zoom<rank>.png (each finding at full resolution); with --sr also
    OUT/<stem>.sr.dcm, a DICOM
    Mammography CAD SR filed with the image's study. Every input is accounted for: each one
    refused gets a line naming the file and the reason, and the last line counts the inputs
    given, scanned and refused. Exits with status 1 if any input was refused.

    Example: mc-scan exam/*.dcm --model ~/.microcalc/bundle --out reports --sr

    Example: mc-scan archive.parquet --model bundle --out scans --ray 10.0.0.1:6379

    Example: mc-scan film.png --spacing 0.1 --out reports
    """
    from microcalc.bundle import Bundle
    from microcalc.engine.triage import Triage
    from microcalc.imaging import read_mammogram
    from microcalc.imaging.isolated import IsolatedReader

    console = Console(stderr=True)
    if sr:
        highdicom()  # one line naming the extra before any work, not one per image
    bundle = Bundle.load(model or default_bundle())
    triage_model = Triage.from_bundle(bundle, wanted=triage)
    patch = bundle.config.patch_size
    chosen_point, settings = settings_from_options(bundle, click.get_current_context().params)
    ensure_output_dir(out_dir)
    if ray_address is not None:
        if as_json:
            raise click.UsageError("--json is not available with --ray: read OUT/findings.parquet")
        from microcalc.cluster.driver import scan_on_ray

        if triage_model is not None:  # the Ray actors run the main model only (not done yet)
            console.print("mc-scan: note: --ray scans every tile: triage is not applied there", markup=False)

        tally = scan_on_ray(
            list(inputs),
            address=ray_address,
            bundle=bundle,
            settings=settings,
            backend=backend,
            precision=precision,
            out_dir=out_dir,
            force=force,
            sr=sr,
            isolation=isolation,
            actors=actors,
            console=console,
        )
        sys.exit(1 if tally.failed else 0)
    paths = expand_inputs(list(inputs))
    runner, run, chosen = open_run(
        bundle, backend=backend, precision=precision, settings=settings, point=chosen_point
    )
    console.print(f"mc-scan: backend {chosen}", highlight=False, markup=False, soft_wrap=True)
    console.print(f"mc-scan: {chosen_point.describe()}", highlight=False, markup=False, soft_wrap=True)
    reports, failed = [], []
    stems = unique_stems(paths)
    start = time.perf_counter()
    progress = Progress(
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    read = partial(read_mammogram, force=force, min_side=patch)
    isolated = IsolatedReader(read, timeout_s=decode_timeout) if isolation == "process" else nullcontext(read)
    # the first image decodes while the backend loads (or compiles) its model
    early = partial(FirstDecode, settings=settings, patch_size=patch)
    with (
        isolated as reader,
        early(paths[0], reader=reader) if paths else nullcontext() as first,
        runner,
        progress if len(paths) > 1 else nullcontext(),
    ):
        task = progress.add_task("scan", total=len(paths))
        scanner = Scanner(runner, reader=reader, settings=settings, triage=triage_model)
        done: set[int] = set()
        try:
            for result in scanner.scan(paths, first=first):
                finish(
                    result,
                    run,
                    out_dir,
                    stems[result.index],
                    reports,
                    failed,
                    console,
                    sr=sr,
                    heatmap=heatmap,
                    zoom=zoom,
                )
                done.add(result.index)
                progress.advance(task)
        finally:  # a scan that stops early still names every input it did not get to
            for index in sorted(set(range(len(paths))) - done):
                refuse(console, failed, paths[index], f"{paths[index]}: not scanned: the scan stopped")
    wall_s = time.perf_counter() - start
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    elif reports:
        Console().print(summary_table(reports, failed, wall_s))
        for r in reports:
            at = point_label(r["operating_point"])
            click.echo(
                f"{r['input']}: {len(r['findings'])} finding(s) at {at} -> "
                f"{r['outputs']['json']} {r['outputs']['png']}"
            )
    console.print(
        f"mc-scan: {len(paths)} input(s): {len(reports)} scanned, {len(failed)} refused "
        f"(each named above), {wall_s:.1f} s",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    if failed:
        sys.exit(1)


main = run_cli(cli, "mc-scan")
