"""``mc-synth mammogram`` and ``mc-synth vendors``: whole synthetic mammograms with their ground truth."""

from __future__ import annotations

import os
from pathlib import Path

import click

from microcalc.cli_common import option_group, writing_to
from microcalc.cli_options import seed_option
from microcalc.errors import MicrocalcError
from microcalc.synth.anatomy import DENSITIES
from microcalc.synth.dicom_writer import INTENTS, PHOTOMETRICS, TRANSFER_SYNTAXES, VOI_FUNCTIONS
from microcalc.synth.phantom import DEFAULT_COLS, DEFAULT_ROWS, DEFAULT_SPACING_MM
from microcalc.synth.vendors import VENDOR_SPACINGS_MM, Case, write_case, write_vendor_set

# what each breast holds, the same for one mammogram and for a vendor set
content_options = option_group(
    click.option(
        "--clusters", type=click.IntRange(0, 20), default=2, help="Microcalcification clusters to place."
    ),
    click.option(
        "--isolated", type=click.IntRange(0, 100), default=6, help="Isolated single specks (hard negatives)."
    ),
)


def _writable_dir(path: Path) -> None:
    if not path.is_dir():
        raise MicrocalcError(f"{path}: output folder does not exist")
    if not os.access(path, os.W_OK):
        raise MicrocalcError(f"{path}: output folder is not writable")


@click.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@seed_option()
@content_options
@click.option("--view", type=click.Choice(["CC", "MLO"]), default="CC")
@click.option("--laterality", type=click.Choice(["L", "R"]), default="L")
@click.option("--rows", type=int, default=DEFAULT_ROWS)
@click.option("--cols", type=int, default=DEFAULT_COLS)
@click.option("--spacing", type=float, default=DEFAULT_SPACING_MM, help="Pixel spacing in mm.")
@click.option(
    "--density",
    type=click.Choice(DENSITIES),
    default="scattered",
    help="BI-RADS breast density: fatty (a), scattered (b), hetero (c), dense (d).",
)
@click.option("--photometric", type=click.Choice(PHOTOMETRICS), default="MONOCHROME2")
@click.option(
    "--voi-function",
    type=click.Choice(VOI_FUNCTIONS),
    default="LINEAR",
    help="VOI LUT Function written with the window.",
)
@click.option("--bits-stored", type=click.IntRange(12, 16), default=12)
@click.option(
    "--transfer-syntax",
    type=click.Choice(list(TRANSFER_SYNTAXES)),
    default="explicit",
    help="explicit VR little endian, RLE lossless or JPEG 2000 lossless.",
)
@click.option(
    "--intent",
    type=click.Choice(list(INTENTS)),
    default="presentation",
    help="DM For Presentation, or For Processing (same pixels; for testing that readers refuse it).",
)
def mammogram(
    out: Path,
    *,
    seed: int,
    clusters: int,
    isolated: int,
    view: str,
    laterality: str,
    rows: int,
    cols: int,
    spacing: float,
    density: str,
    photometric: str,
    voi_function: str,
    bits_stored: int,
    transfer_syntax: str,
    intent: str,
) -> None:
    """Write a DM "For Presentation" MG DICOM to OUT and its ground truth to OUT with suffix .json.

    The truth lists each cluster's centre and bbox ([row, col], half-open [row0, col0, row1,
    col1)) in the written image's pixel grid, each calcification's centre and diameter (px, mm),
    the breast bbox and the isolated specks (hard negatives). Calcification sizes are in mm, so
    another --spacing gives the same physical specks in more or fewer pixels.

    Example: mc-synth mammogram m.dcm --spacing 0.05 --rows 2867 --cols 2330 --bits-stored 14
    """
    _writable_dir(out.parent if str(out.parent) else Path("."))
    case = Case(
        name=out.name,
        seed=seed,
        rows=rows,
        cols=cols,
        spacing_mm=spacing,
        bits_stored=bits_stored,
        photometric=photometric,
        voi_function=voi_function,
        view=view,
        laterality=laterality,
        density=density,
        clusters=clusters,
        isolated=isolated,
        transfer_syntax=transfer_syntax,
        intent=intent,
    )
    with writing_to(out):
        truth = write_case(out, case)
    click.echo(
        f"wrote {out} ({rows}x{cols}, {len(truth['clusters'])} clusters) and {out.with_suffix('.json').name}"
    )


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--breasts",
    type=click.IntRange(1, 1000),
    default=4,
    help="Breasts, each seen by a detector of every spacing.",
)
@click.option(
    "--spacings",
    default=",".join(f"{s:g}" for s in VENDOR_SPACINGS_MM),
    help="Comma-separated detector pixel spacings in mm.",
)
@click.option(
    "--height-mm",
    type=click.FloatRange(min=20.0),
    default=143.36,
    help="Field of view height (rows) in mm, the same at every spacing.",
)
@click.option(
    "--width-mm",
    type=click.FloatRange(min=20.0),
    default=116.48,
    help="Field of view width (columns) in mm.",
)
@content_options
@seed_option()
def vendors(
    outdir: Path,
    *,
    breasts: int,
    spacings: str,
    height_mm: float,
    width_mm: float,
    clusters: int,
    isolated: int,
    seed: int,
) -> None:
    """Write the same breasts as detectors of several spacings store them: OUTDIR/s<MM>/case_NNN.dcm.

    Each breast is rendered once at 0.035 mm and sampled by each detector (area integration,
    quantum noise for the same dose), so its calcifications and clusters have the same size in
    mm at every spacing. Bits stored (12, 14, 16), VOI LUT function and MONOCHROME1/2 rotate over
    the images; each has its truth (.json) beside it, and OUTDIR/manifest.json lists them.

    Example: mc-synth vendors heldout --breasts 10 --spacings 0.05,0.07,0.085,0.1 --seed 100
    """
    try:
        values = tuple(float(v) for v in spacings.split(",") if v.strip())
    except ValueError as e:
        raise click.UsageError(f"--spacings: expected comma-separated numbers, got {spacings!r}") from e
    with writing_to(outdir):
        manifest = write_vendor_set(
            outdir,
            breasts=breasts,
            spacings=values,
            height_mm=height_mm,
            width_mm=width_mm,
            seed=seed,
            clusters=clusters,
            isolated=isolated,
            progress=breasts > 1,
        )
    click.echo(f"wrote {breasts} breasts at {', '.join(f'{v:g}' for v in values)} mm and {manifest}")
