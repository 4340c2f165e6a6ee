"""``mc-train``: train a patch classifier with the published recipe or the field's other methods."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import click

from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import device_option, fit_option, seed_option
from microcalc.errors import InputError
from microcalc.preprocessing import SCALINGS, Preprocessing


def _floats(text: str | None, option: str) -> tuple[float, ...]:
    if not text:
        return ()
    try:
        return tuple(float(v) for v in text.split(",") if v.strip())
    except ValueError as exc:
        raise InputError(f"{option}: expected comma-separated numbers, got {text!r}") from exc


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("data", type=click.Path(path_type=Path))
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Run folder to write.")
@click.option("--val-dir", type=click.Path(path_type=Path), help="Validation patches (same layout as DATA).")
@click.option("--val-fraction", default=0.2, help="Stratified validation share without --val-dir.")
@click.option("--positive-class", default="cluster", help="Class folder/label of clusters.")
@click.option("--patch-size", default=674, help="Model input side in pixels.")
@fit_option()
@click.option(
    "--spacing-mm",
    type=float,
    default=None,
    help="Pixel spacing of the patches in mm [default: from DICOM headers or mc-synth's truth.json]; "
    "recorded in the checkpoint, the scanner resamples every mammogram to it.",
)
@click.option(
    "--scaling",
    type=click.Choice(SCALINGS),
    default="per_tile_max",
    help="Intensity scaling recorded in the checkpoint (published: per_tile_max).",
)
@click.option("--arch", default="resnet101", help="Architecture of the model zoo.")
@click.option(
    "--init",
    "init",
    type=click.Path(path_type=Path),
    help="Start weights: torchvision (ImageNet) state dict or a microcalc checkpoint.",
)
@click.option(
    "--freeze",
    type=click.Choice(["none", "partial", "head"]),
    default="none",
    help="none: fine-tune all; partial: freeze stem and early stages; head: train the classifier only.",
)
@click.option("--optimizer", type=click.Choice(["adam", "adamw", "sgd"]), default="adam")
@click.option("--lr", default=5e-6, help="Learning rate.")
@click.option("--weight-decay", default=1e-3)
@click.option("--batch-size", default=8)
@click.option("--epochs", default=30)
@click.option(
    "--schedule",
    type=click.Choice(["cosine", "step", "constant"]),
    default="cosine",
    help="Learning-rate schedule (per step, after --warmup-epochs of linear warm-up).",
)
@click.option("--warmup-epochs", default=1, help="Epochs of linear learning-rate warm-up (0: none).")
@click.option(
    "--patience",
    default=10,
    help="Stop after this many epochs without a better (smoothed) validation AUC (0: never).",
)
@click.option(
    "--ema-decay",
    type=click.FloatRange(0.0, 1.0, max_open=True),
    default=0.998,
    help="Validate, select and save an exponential moving average of the weights with this "
    "per-step decay (warmed up from 0; 0: off, the trained weights themselves).",
)
@click.option(
    "--bn-reestimate/--no-bn-reestimate",
    default=True,
    help="Recompute BatchNorm statistics from training batches before each validation.",
)
@click.option(
    "--smooth-epochs",
    type=click.IntRange(1, 100),
    default=3,
    help="Choose the checkpoint and stop early on the mean validation AUC of this many "
    "epochs (1: each epoch's own).",
)
@click.option("--balanced/--no-balanced", default=True, help="Class-balanced sampling.")
@click.option(
    "--augment/--no-augment",
    default=True,
    help="Flips and 90-degree rotations (exact for a patch).",
)
@click.option(
    "--photometric/--no-photometric",
    default=False,
    help="Also gamma/intensity jitter and Gaussian noise (off by default: they biased models "
    "toward "
    "'cluster' on shifted sets; see benchmarks/AUGMENTATION.md).",
)
@click.option(
    "--noise-augment",
    type=click.FloatRange(0.0, 50.0),
    default=0.0,
    help="Add Gaussian detector noise of a level drawn per patch from 0 to this many grey levels "
    "(with --augment), so the operating point holds on noisier detectors.",
)
@click.option("--hard-negatives", default=0, help="Rounds of hard negative mining.")
@click.option(
    "--negative-pool",
    type=click.Path(path_type=Path),
    help="Negatives to mine (with --hard-negatives): patches and/or whole normal mammograms "
    "(DICOM), "
    "which are cut into the scanner's breast tiles.",
)
@click.option(
    "--per-round",
    default=0,
    help="Negatives added per round: the K highest-scoring pool patches, below 0.5 or not "
    "(0: every false positive at 0.5).",
)
@click.option("--folds", default=0, help="Stratified K-fold cross-validation (0: off).")
@click.option("--sweep-lr", help="Comma-separated learning rates to grid-search.")
@click.option("--sweep-wd", help="Comma-separated weight decays to grid-search.")
@click.option(
    "--amp",
    type=click.Choice(["auto", "off", "bf16", "fp16"]),
    default="auto",
    help="Mixed precision: auto = bf16/fp16 on a GPU, off on CPU.",
)
@click.option(
    "--channels-last/--no-channels-last", default=None, help="Memory format (default: on for GPUs)."
)
@device_option()
@click.option("--workers", default=0, help="DataLoader worker processes.")
@click.option("--resume", is_flag=True, help="Continue from RUN/last.pt (give the same options).")
@click.option("--quiet", is_flag=True, help="No progress bars or per-epoch lines.")
@seed_option()
def cli(
    data: Path,
    out: Path,
    val_dir: Path | None,
    val_fraction: float,
    positive_class: str,
    patch_size: int,
    fit_policy: str,
    spacing_mm: float | None,
    scaling: str,
    arch: str,
    init: Path | None,
    freeze: str,
    optimizer: str,
    lr: float,
    weight_decay: float,
    batch_size: int,
    epochs: int,
    schedule: str,
    warmup_epochs: int,
    patience: int,
    ema_decay: float,
    bn_reestimate: bool,
    smooth_epochs: int,
    balanced: bool,
    augment: bool,
    photometric: bool,
    noise_augment: float,
    hard_negatives: int,
    negative_pool: Path | None,
    per_round: int,
    folds: int,
    sweep_lr: str | None,
    sweep_wd: str | None,
    amp: str,
    channels_last: bool | None,
    device: str,
    workers: int,
    resume: bool,
    quiet: bool,
    seed: int,
) -> None:
    """Train a cluster/no-cluster patch classifier on DATA.

    DATA is a folder with one subfolder per class (PNG, PGM, TIFF or DICOM patches) or a CSV
    manifest with columns path,label. The defaults reproduce the published Microcalc-Detect
    recipe: ResNet101, 674x674, Adam, LR 5e-6, weight decay 1e-3, batch 8, per-patch max
    scaling, with a weight EMA, BatchNorm re-estimation, one warm-up epoch and selection on a
    3-epoch mean (see --ema-decay, --bn-reestimate, --warmup-epochs, --smooth-epochs). RUN gets
    checkpoint.pt (best smoothed validation AUC), last.pt, metrics.json, history.csv,
    roc.png and curves.png. The patches' pixel spacing (DICOM headers, mc-synth's truth.json or
    --spacing-mm) goes into the checkpoint: mc-scan resamples every mammogram to it. Run it under
    torchrun for multi-GPU DistributedDataParallel.

    Example: mc-train patches/ --out runs/r1 --arch smallcnn --patch-size 128 --epochs 12 --lr 2e-3
    """
    from microcalc.trainer import experiments
    from microcalc.trainer.data import discover
    from microcalc.trainer.distributed import init_distributed
    from microcalc.trainer.fit import TrainOptions
    from microcalc.trainer.spacing import training_spacing

    for name, value, low in (
        ("--patch-size", patch_size, 8),
        ("--batch-size", batch_size, 1),
        ("--epochs", epochs, 1),
    ):
        if value < low:
            raise InputError(f"{name} must be at least {low}, got {value}")
    if lr <= 0 or weight_decay < 0:
        raise InputError(
            f"--lr must be positive and --weight-decay non-negative, got {lr} and {weight_decay}"
        )
    if folds == 1 or folds < 0:
        raise InputError(f"--folds must be 0 (off) or at least 2, got {folds}")
    if init is not None and not init.is_file():
        raise InputError(f"{init}: --init file not found")
    if (
        resume
        and not (out / "last.pt").is_file()
        and not folds
        and not (sweep_lr or sweep_wd)
        and not hard_negatives
    ):
        raise InputError(f"{out / 'last.pt'}: nothing to resume")
    opts = TrainOptions(
        arch=arch,
        patch_size=patch_size,
        fit=fit_policy,
        preprocessing=Preprocessing(scaling=scaling, channels=3),
        init=str(init) if init else None,
        freeze=freeze,
        optimizer=optimizer,
        lr=lr,
        weight_decay=weight_decay,
        batch_size=batch_size,
        epochs=epochs,
        schedule=schedule,
        warmup_epochs=warmup_epochs,
        patience=patience,
        ema_decay=ema_decay,
        bn_reestimate=bn_reestimate,
        smooth_epochs=smooth_epochs,
        balanced=balanced,
        augment=augment,
        photometric=photometric,
        noise_augment=noise_augment,
        seed=seed,
        amp=amp,
        device=device,
        channels_last=channels_last,
        workers=workers,
        progress=not quiet,
    )
    plan = experiments.Plan(
        val_fraction=val_fraction,
        folds=folds,
        sweep_lr=_floats(sweep_lr, "--sweep-lr"),
        sweep_wd=_floats(sweep_wd, "--sweep-wd"),
        hard_negatives=hard_negatives,
        negative_pool=negative_pool,
        per_round=per_round,
        resume=resume,
    )
    train_set = discover(data, positive_class=positive_class)
    val_set = discover(val_dir, positive_class=positive_class, classes=train_set.classes) if val_dir else None
    spacing = training_spacing(
        [s for s in (train_set, val_set) if s is not None],
        [p for p in (data, val_dir) if p is not None],
        override=spacing_mm,
    )
    opts = replace(opts, pixel_spacing_mm=spacing)
    if not quiet:
        said = f"{spacing:g} mm" if spacing else "unknown: scans will run at each image's native grid"
        click.echo(f"pixel spacing of the training data: {said}", err=True)
    dist = init_distributed()
    metrics = experiments.run(train_set, val_set, opts, out, plan, dist)
    if dist.main and not quiet:
        from microcalc.trainer.report import print_metrics

        print_metrics(metrics, title=f"{out}: validation, best epoch {metrics.get('best_epoch', '-')}")


main = run_cli(cli, "mc-train")


if __name__ == "__main__":
    main()
