"""``mc-scan``: find suspicious microcalcification clusters in mammograms.

This module parses the options and loops: the scan opens through
:func:`~microcalc.engine.session.open_scan`, each result is written by
:func:`~microcalc.engine.scan_console.finish`. It lives above both :mod:`microcalc.engine` and
:mod:`microcalc.cluster` because ``--ray`` hands the scan to the Ray driver; nothing imports it.
"""

from __future__ import annotations

import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microcalc.atomic import ensure_output_dir
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import bundle_option, out_dir_option
from microcalc.defaults import default_bundle
from microcalc.engine.inputs import expand_inputs
from microcalc.engine.report import unique_stems
from microcalc.engine.scan_console import finish, refuse, summary_table
from microcalc.engine.scan_options import (
    decode_timeout_option,
    scan_options,
    spacing_options,
    threshold_options,
    triage_option,
)
from microcalc.engine.session import ISOLATION_CHOICES, open_scan, plan_scan
from microcalc.operating_points import point_label
from microcalc.report_sr.document import highdicom


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
@decode_timeout_option
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

    console = Console(stderr=True)
    if sr:
        highdicom()  # one line naming the extra before any work, not one per image
    params = click.get_current_context().params
    plan = plan_scan(Bundle.load(model or default_bundle()), params, force=force, isolation=isolation)
    ensure_output_dir(out_dir)
    if ray_address is not None:
        if as_json:
            raise click.UsageError("--json is not available with --ray: read OUT/findings.parquet")
        from microcalc.cluster.driver import scan_on_ray

        tally = scan_on_ray(
            list(inputs),
            address=ray_address,
            plan=plan,
            out_dir=out_dir,
            sr=sr,
            actors=actors,
            console=console,
        )
        sys.exit(1 if tally.failed else 0)
    paths = expand_inputs(list(inputs))

    def say(line: str) -> None:
        console.print(f"mc-scan: {line}", highlight=False, markup=False, soft_wrap=True)

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
    with open_scan(plan, paths=paths, say=say) as session, progress if len(paths) > 1 else nullcontext():
        task = progress.add_task("scan", total=len(paths))
        done: set[int] = set()
        try:
            for result in session.scan():
                finish(
                    result,
                    session.run,
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
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    elif reports:
        Console().print(summary_table(reports, failed, wall_s))
        for r in reports:
            at = point_label(r.operating_point)
            click.echo(
                f"{r.input}: {len(r.findings)} finding(s) at {at} -> {r.outputs['json']} {r.outputs['png']}"
            )
    say(
        f"{len(paths)} input(s): {len(reports)} scanned, {len(failed)} refused "
        f"(each named above), {wall_s:.1f} s"
    )
    if failed:
        sys.exit(1)


main = run_cli(cli, "mc-scan")
