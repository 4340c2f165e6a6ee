"""``mc-synth patches`` and ``mc-synth compare``: patch sets cut from phantoms, and how real they look."""

from __future__ import annotations

from pathlib import Path

import click

from microcalc.atomic import write_json_atomic, write_text_atomic
from microcalc.cli_common import writing_to
from microcalc.cli_options import out_dir_option, seed_option
from microcalc.errors import MicrocalcError
from microcalc.synth.anatomy import DENSITIES
from microcalc.synth.dicom_writer import PHOTOMETRICS
from microcalc.synth.patches import FRAMINGS, PatchStyle, write_patch_set
from microcalc.synth.phantom import DEFAULT_SPACING_MM


@click.command()
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--n",
    "n",
    type=click.IntRange(min=2),
    default=1000,
    help="Patches in all, half cluster/ and half normal/.",
)
@click.option("--patch-size", type=click.IntRange(32, 1024), default=674)
@click.option(
    "--spacing",
    type=float,
    default=DEFAULT_SPACING_MM,
    help="Pixel spacing in mm (calcification sizes stay in mm): match the data set's pixel size.",
)
@click.option(
    "--framing",
    type=click.Choice(FRAMINGS),
    default="whole",
    help="whole: one whole cluster per cluster patch; inside: the patch cut inside a larger cluster.",
)
@click.option(
    "--randomise/--no-randomise",
    default=False,
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
    help="Extra detector noise, in grey levels of the displayed 8-bit image.",
)
@click.option(
    "--photometric",
    type=click.Choice(PHOTOMETRICS),
    default="MONOCHROME2",
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
    with writing_to(outdir, what="write patches"):
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
    click.echo(
        f"wrote {counts['cluster']} cluster and {counts['normal']} normal patches "
        f"of {patch_size}x{patch_size} to {outdir}"
    )


@click.command()
@click.argument("real", type=click.Path(exists=True, path_type=Path))
@click.argument("synth", type=click.Path(exists=True, path_type=Path))
@out_dir_option(default=Path("realism"), help="Folder for report.md, report.json and the plots.", dest="out")
@click.option("--real-positive", help="Cluster class of REAL (default: cluster if present, else 1).")
@click.option("--synth-positive", help="Cluster class of SYNTH (default: cluster if present, else 1).")
@click.option(
    "--max-per-class",
    type=click.IntRange(min=1),
    default=400,
    help="Patches measured per class and set (a seeded sample of larger sets).",
)
@click.option("--plots/--no-plots", default=True, help="Write the PNG plots (matplotlib).")
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
    with writing_to(out, what="write the report"):
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
    click.echo(table, nl=False)
    click.echo(f"report in {out}/report.md")
