"""Between an epoch's training and its validation: which model is validated, and the run's log files."""

from __future__ import annotations

import csv
from pathlib import Path

from torch import nn
from torch.utils.data import DataLoader

from microcalc.atomic import atomic_path
from microcalc.trainer.loop import Runtime
from microcalc.trainer.stability import WeightEma, has_batchnorm, reestimate_bn

HISTORY_FIELDS = (
    "epoch",
    "train_loss",
    "val_auc",
    "val_auc_smoothed",
    "val_accuracy",
    "val_f1",
    "val_mcc",
    "lr",
    "seconds",
)
BN_PATCHES = 256  # training patches whose statistics replace BatchNorm's running ones before validation


def frozen_batchnorms(model: nn.Module, frozen: list[nn.Module]) -> frozenset[str]:
    """Names of the BatchNorm layers inside ``--freeze``'s frozen modules (their statistics stay)."""
    inside = {id(m) for f in frozen for m in f.modules()}
    return frozenset(
        name
        for name, m in model.named_modules()
        if id(m) in inside and isinstance(m, nn.modules.batchnorm._BatchNorm)
    )


def prepare_for_validation(
    model: nn.Module,
    ema: WeightEma | None,
    train_loader: DataLoader,
    *,
    runtime: Runtime,
    bn_reestimate: bool,
    frozen: list[nn.Module],
) -> nn.Module:
    """The model to validate, select and save: the EMA average when kept, else the trained model.

    With ``bn_reestimate`` its BatchNorm statistics are first recomputed from up to
    :data:`BN_PATCHES` training patches (the sampler's order of this epoch, so the training
    trajectory and its random draws are untouched); those of the ``frozen`` modules are kept.
    """
    evaluated = model if ema is None else ema.module
    if bn_reestimate and has_batchnorm(evaluated):
        with runtime.autocast():
            reestimate_bn(
                evaluated,
                (runtime.to_device(x) for x, _ in train_loader),
                max_batches=-(-BN_PATCHES // (train_loader.batch_size or 1)),
                keep=frozen_batchnorms(model, frozen),
            )
    return evaluated


def write_history(path: Path, history: list[dict]) -> None:
    """``history.csv``: one row per epoch (written atomically after each)."""
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)


def progress_bar(total: int, desc: str, enabled: bool):
    """A tqdm bar over the patches of one epoch (silent when ``enabled`` is False)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="patch", leave=False, disable=not enabled, dynamic_ncols=True)
