"""``mc-synth``: realistic synthetic mammograms and patch sets for tests, training and benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import click

from microcalc.atomic import write_json_atomic, write_text_atomic
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli, seed_option
from microcalc.errors import MicrocalcError
from microcalc.synth.anatomy import DENSITIES
from microcalc.synth.dicom_writer import INTENTS, PHOTOMETRICS, TRANSFER_SYNTAXES, VOI_FUNCTIONS
from microcalc.synth.patches import FRAMINGS, PatchStyle, write_patch_set
from microcalc.synth.phantom import DEFAULT_COLS, DEFAULT_ROWS, DEFAULT_SPACING_MM
from microcalc.synth.vendors import VENDOR_SPACINGS_MM, Case, write_case, write_vendor_set


def _writable_dir(path: Path) -> None:
    if not path.is_dir():
        raise MicrocalcError(f"{path}: output folder does not exist")
    if not os.access(path, os.W_OK):
        raise MicrocalcError(f"{path}: output folder is not writable")


@click.group(context_settings=CONTEXT_SETTINGS)
def cli() -> None:
    """Synthetic mammograms (DICOM MG + ground truth JSON) and patch sets cut from phantoms."""


@cli.command()
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@seed_option()
@click.option(
    "--clusters",
    type=click.IntRange(0, 20),
    default=2,
    show_default=True,
    help="Microcalcification clusters to place.",
)
@click.option(
    "--isolated",
    type=click.IntRange(0, 100),
    default=6,
    show_default=True,
    help="Isolated single specks (hard negatives).",
)
@click.option("--view", type=click.Choice(["CC", "MLO"]), default="CC", show_default=True)
@click.option("--laterality", type=click.Choice(["L", "R"]), default="L", show_default=True)
@click.option("--rows", type=int, default=DEFAULT_ROWS, show_default=True)
@click.option("--cols", type=int, default=DEFAULT_COLS, show_default=True)
@click.option(
    "--spacing", type=float, default=DEFAULT_SPACING_MM, show_default=True, help="Pixel spacing in mm."
)
@click.option(
    "--density",
    type=click.Choice(DENSITIES),
    default="scattered",
    show_default=True,
    help="BI-RADS breast density: fatty (a), scattered (b), hetero (c), dense (d).",
)
@click.option("--photometric", type=click.Choice(PHOTOMETRICS), default="MONOCHROME2", show_default=True)
@click.option(
    "--voi-function",
    type=click.Choice(VOI_FUNCTIONS),
    default="LINEAR",
    show_default=True,
    help="VOI LUT Function written with the window.",
)
@click.option("--bits-stored", type=click.IntRange(12, 16), default=12, show_default=True)
@click.option(
    "--transfer-syntax",
    type=click.Choice(list(TRANSFER_SYNTAXES)),
    default="explicit",
    show_default=True,
    help="explicit VR little endian, RLE lossless or JPEG 2000 lossless.",
)
@click.option(
    "--intent",
    type=click.Choice(list(INTENTS)),
    default="presentation",
    show_default=True,
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
    try:
        truth = write_case(out, case)
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    except OSError as e:
        raise MicrocalcError(f"{out}: cannot write ({e.strerror or e})") from e
    click.echo(
        f"wrote {out} ({rows}x{cols}, {len(truth['clusters'])} clusters) and {out.with_suffix('.json').name}"
    )


@cli.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--breasts",
    type=click.IntRange(1, 1000),
    default=4,
    show_default=True,
    help="Breasts, each seen by a detector of every spacing.",
)
@click.option(
    "--spacings",
    default=",".join(f"{s:g}" for s in VENDOR_SPACINGS_MM),
    show_default=True,
    help="Comma-separated detector pixel spacings in mm.",
)
@click.option(
    "--height-mm",
    type=click.FloatRange(min=20.0),
    default=143.36,
    show_default=True,
    help="Field of view height (rows) in mm, the same at every spacing.",
)
@click.option(
    "--width-mm",
    type=click.FloatRange(min=20.0),
    default=116.48,
    show_default=True,
    help="Field of view width (columns) in mm.",
)
@click.option("--clusters", type=click.IntRange(0, 20), default=2, show_default=True)
@click.option("--isolated", type=click.IntRange(0, 100), default=6, show_default=True)
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
    try:
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
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    except OSError as e:
        raise MicrocalcError(f"{outdir}: cannot write ({e.strerror or e})") from e
    click.echo(f"wrote {breasts} breasts at {', '.join(f'{v:g}' for v in values)} mm and {manifest}")


@cli.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Patches in all, half cluster/ and half normal/.",
)
@click.option("--patch-size", type=click.IntRange(32, 1024), default=674, show_default=True)
@click.option(
    "--spacing",
    type=float,
    default=DEFAULT_SPACING_MM,
    show_default=True,
    help="Pixel spacing in mm (calcification sizes stay in mm): match the data set's pixel size.",
)
@click.option(
    "--framing",
    type=click.Choice(FRAMINGS),
    default="whole",
    show_default=True,
    help="whole: one whole cluster per cluster patch; inside: the patch cut inside a larger cluster.",
)
@click.option(
    "--randomise/--no-randomise",
    default=False,
    show_default=True,
    help="Domain randomisation per phantom: tissue contrast, fine texture, detector blur, noise, window.",
)
@click.option(
    "--density",
    type=click.Choice(DENSITIES),
    default=None,
    help="Fix the BI-RADS density [default: drawn per phantom].",
)
@click.option(
    "--noise",
    type=click.FloatRange(0, 50),
    default=0.0,
    show_default=True,
    help="Extra detector noise, in grey levels of the displayed 8-bit image.",
)
@click.option(
    "--photometric",
    type=click.Choice(PHOTOMETRICS),
    default="MONOCHROME2",
    show_default=True,
    help="Store the phantoms as MONOCHROME1 (inverted) and read them back as the scanner does.",
)
@seed_option()
def patches(
    outdir: Path,
    *,
    n: int,
    patch_size: int,
    spacing: float,
    framing: str,
    randomise: bool,
    density: str | None,
    noise: float,
    photometric: str,
    seed: int,
) -> None:
    """Write OUTDIR/cluster/*.png (clusters) and OUTDIR/normal/*.png (none) with OUTDIR/truth.json.

    Patches are 8-bit grayscale, cut from tissue phantoms through the same DICOM window and
    to_uint8 conversion the scanner applies. Normal patches may hold single specks and vessels.

    Example (like real 60x60 film patches at 0.085 mm, which transfer best):
    mc-synth patches synth60 --n 2000 --patch-size 60 --spacing 0.085 --framing inside --randomise

    --density, --noise and --photometric make validation sets that differ from training, e.g.
    mc-synth patches val_dense --n 400 --patch-size 128 --seed 503 --density dense
    """
    try:
        style = PatchStyle(
            spacing_mm=spacing,
            framing=framing,
            randomise=randomise,
            density=density,
            noise=noise,
            photometric=photometric,
        )
        counts = write_patch_set(
            outdir, n=n, patch_size=patch_size, seed=seed, style=style, progress=n >= 200
        )
    except ValueError as e:
        raise click.UsageError(str(e)) from e
    except OSError as e:
        raise MicrocalcError(f"{outdir}: cannot write patches ({e.strerror or e})") from e
    click.echo(
        f"wrote {counts['cluster']} cluster and {counts['normal']} normal patches "
        f"of {patch_size}x{patch_size} to {outdir}"
    )


@cli.command()
@click.argument("real", type=click.Path(exists=True, path_type=Path))
@click.argument("synth", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("realism"),
    show_default=True,
    help="Folder for report.md, report.json and the plots.",
)
@click.option("--real-positive", help="Cluster class of REAL (default: cluster if present, else 1).")
@click.option("--synth-positive", help="Cluster class of SYNTH (default: cluster if present, else 1).")
@click.option(
    "--max-per-class",
    type=click.IntRange(min=1),
    default=400,
    show_default=True,
    help="Patches measured per class and set (a seeded sample of larger sets).",
)
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write the PNG plots (matplotlib).")
@seed_option()
def compare(
    real: Path,
    synth: Path,
    *,
    out: Path,
    real_positive: str | None,
    synth_positive: str | None,
    max_per_class: int,
    plots: bool,
    seed: int,
) -> None:
    """Compare REAL and SYNTH patch sets statistic by statistic; largest difference first.

    Both are class-folder trees (cluster/normal, 1/0) or path,label manifests. Measured per class:
    grey levels, the noise power spectrum's 1/f^beta slope and high-frequency level, local
    contrast, and bright specks (count per patch, diameter, contrast; LoG blob detection). Each
    row gives both medians, the Wasserstein distance (the statistic's units) and the KS distance.

    Example: mc-synth compare ../shared/data/real60_train synth60 --out realism60
    """
    from microcalc.synth.realism_report import compare as compare_sets
    from microcalc.synth.realism_report import load_classes, markdown_table, measure, plot

    real_patches = load_classes(real, positive=real_positive, max_per_class=max_per_class, seed=seed)
    synth_patches = load_classes(synth, positive=synth_positive, max_per_class=max_per_class, seed=seed)
    for name, group in (("REAL", real_patches), ("SYNTH", synth_patches)):
        if not all(group.values()):
            raise MicrocalcError(
                f"{real if name == 'REAL' else synth}: {name} needs cluster and normal patches"
            )
    real_stats, synth_stats = measure(real_patches), measure(synth_patches)
    rows = compare_sets(real_stats, synth_stats)
    table = markdown_table(rows)
    try:
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(
            out / "report.json",
            {
                "real": str(real),
                "synth": str(synth),
                "seed": seed,
                "max_per_class": max_per_class,
                "rows": rows,
            },
        )
        write_text_atomic(
            out / "report.md", f"# mc-synth compare\n\nreal: `{real}`  \nsynthetic: `{synth}`\n\n{table}"
        )
        if plots:
            plot(real_stats, synth_stats, real_patches, synth_patches, out)
    except OSError as e:
        raise MicrocalcError(f"{out}: cannot write the report ({e.strerror or e})") from e
    click.echo(table, nl=False)
    click.echo(f"report in {out}/report.md")


main = run_cli(cli, "mc-synth")
