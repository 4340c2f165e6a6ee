"""One training run: train, validate every epoch, keep the best checkpoint by validation AUC.

Writes into the run folder ``checkpoint.pt`` (best smoothed validation AUC), ``last.pt`` (with the
optimizer, schedule, EMA and RNG state for ``--resume``), ``metrics.json``, ``history.csv``,
``roc.png`` and ``curves.png``. The defaults are the published recipe (ResNet101, Adam,
LR 5e-6, weight decay 1e-3, batch 8, 674x674, per-patch max scaling) plus the stabilisers of
:mod:`microcalc.trainer.stability` (weight EMA, BatchNorm re-estimation, one epoch of warm-up,
selection on a 3-epoch mean), which ``--ema-decay 0 --no-bn-reestimate --warmup-epochs 0
--smooth-epochs 1`` turn off.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from microcalc.atomic import write_json_atomic
from microcalc.model_config import ModelConfig
from microcalc.models.checkpoint import save_checkpoint
from microcalc.preprocessing import PUBLISHED, Preprocessing
from microcalc.trainer import model_setup
from microcalc.trainer.data import PatchSet
from microcalc.trainer.dataset import Augment, BalancedSampler, PatchDataset
from microcalc.trainer.distributed import Dist, unwrap
from microcalc.trainer.loop import make_runtime, predict, train_epoch
from microcalc.trainer.metrics import binary_metrics, metrics_at_points, validation_points
from microcalc.trainer.optim import make_optimizer, make_schedule
from microcalc.trainer.plots import plot_curves, plot_roc
from microcalc.trainer.resume import restore, save_last
from microcalc.trainer.stability import SmoothedSelector, WeightEma
from microcalc.trainer.validate import prepare_for_validation, progress_bar, write_history

EpochHook = Callable[[int, torch.nn.Module, WeightEma | None], None]


@dataclass(frozen=True)
class TrainOptions:
    """Everything that shapes a run (recorded in metrics.json and last.pt)."""

    arch: str = "resnet101"
    patch_size: int = 674
    fit: str = "error"
    preprocessing: Preprocessing = field(default=PUBLISHED)
    init: str | None = None
    freeze: str = "none"
    optimizer: str = "adam"
    lr: float = 5e-6
    weight_decay: float = 1e-3
    batch_size: int = 8
    epochs: int = 30
    schedule: str = "cosine"
    warmup_epochs: int = 1
    patience: int = 10
    ema_decay: float = 0.998
    bn_reestimate: bool = True
    smooth_epochs: int = 3
    balanced: bool = True
    augment: bool = True
    photometric: bool = False
    noise_augment: float = 0.0
    seed: int = 0
    amp: str = "auto"
    device: str = "auto"
    channels_last: bool | None = None
    workers: int = 0
    threshold: float = 0.5
    progress: bool = True
    pixel_spacing_mm: float | None = None

    def record(self) -> dict[str, Any]:
        out = asdict(self)
        out["preprocessing"] = self.preprocessing.to_dict()
        return out


def _augment(opts: TrainOptions) -> Augment:
    """Geometric augmentation by default; gamma/gain/noise only when asked (benchmarks/AUGMENTATION.md).

    ``noise_augment`` adds detector noise of a level drawn per patch from [0, noise_augment] grey
    levels: without it a ResNet18's cluster scores fell on noisier detectors and its patch operating
    point lost 0.24 of accuracy at 8 grey levels (benchmarks/FROC_RECIPE.md).
    """
    if not opts.augment:
        return Augment.off()
    base = Augment() if opts.photometric else Augment.geometric()
    return replace(base, noise_max=opts.noise_augment)


def fit(
    train_set: PatchSet,
    val_set: PatchSet,
    opts: TrainOptions,
    out: Path,
    *,
    dist: Dist | None = None,
    resume: bool = False,
    start_weights: dict[str, torch.Tensor] | None = None,
    extra_metrics: dict[str, Any] | None = None,
    on_epoch: EpochHook | None = None,
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Train on ``train_set``, select by AUC on ``val_set``; returns (metrics, best weights).

    ``start_weights`` continues from given weights (hard-negative rounds) instead of ``--init``.
    ``on_epoch(epoch, model, ema)`` runs after each epoch's training, before validation (the
    ablation in benchmarks/real60_ablation.py scores every variant there).
    """
    dist = dist or Dist()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(opts.seed)
    config = ModelConfig(
        arch=opts.arch,
        classes=train_set.classes,
        positive_index=0,
        patch_size=opts.patch_size,
        preprocessing=opts.preprocessing,
        threshold=opts.threshold,
        pixel_spacing_mm=opts.pixel_spacing_mm,
    )
    runtime = make_runtime(
        device=opts.device, amp=opts.amp, channels_last=opts.channels_last, local_rank=dist.local_rank
    )
    train_ds = PatchDataset(
        train_set,
        size=opts.patch_size,
        policy=opts.fit,
        preprocessing=opts.preprocessing,
        augment=_augment(opts),
        seed=opts.seed,
    )
    val_ds = PatchDataset(val_set, size=opts.patch_size, policy=opts.fit, preprocessing=opts.preprocessing)
    sampler = BalancedSampler(
        train_ds.labels, seed=opts.seed, balanced=opts.balanced, rank=dist.rank, world=dist.world
    )
    pin = runtime.device.type == "cuda"
    train_loader = DataLoader(
        train_ds,
        batch_size=opts.batch_size,
        sampler=sampler,
        num_workers=opts.workers,
        drop_last=len(sampler) > opts.batch_size,
        pin_memory=pin,
    )
    val_loader = DataLoader(val_ds, batch_size=opts.batch_size, num_workers=opts.workers, pin_memory=pin)

    model = model_setup.build_model(
        opts.arch, num_classes=config.num_classes, in_chans=config.preprocessing.channels
    )
    init_record = None
    if start_weights is not None:
        model.load_state_dict(start_weights, strict=True)
    elif opts.init and not resume:
        init_record = model_setup.load_init(model, opts.init, arch=opts.arch)
    frozen = model_setup.apply_freeze(model, opts.freeze)
    model = model.to(runtime.device)
    if runtime.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(
        model_setup.trainable_parameters(model),
        name=opts.optimizer,
        lr=opts.lr,
        weight_decay=opts.weight_decay,
    )
    scheduler = make_schedule(
        optimizer,
        schedule=opts.schedule,
        epochs=opts.epochs,
        warmup_epochs=opts.warmup_epochs,
        steps_per_epoch=len(train_loader),
    )
    scaler = runtime.grad_scaler()
    ema = WeightEma(model, decay=opts.ema_decay) if opts.ema_decay > 0 else None
    selector = SmoothedSelector(window=opts.smooth_epochs, patience=opts.patience)
    state: dict[str, Any] = {
        "epoch": 0,
        "selector": selector.state_dict(),
        "ema": None,
        "best_epoch": 0,
        "history": [],
        "best_metrics": {},
        "best_scores": [],
        "stopped": False,
        "init": init_record,
    }
    best_weights = {k: v.detach().cpu().clone() for k, v in unwrap(model).state_dict().items()}
    if resume:
        best_weights = restore(out, model, optimizer, scheduler, scaler, state, config)
        selector.load_state_dict(state["selector"])
        if ema is not None and state["ema"] is not None:
            ema.load_state_dict(state["ema"])
    net = dist.wrap(model, runtime.device)

    is_pos = val_ds.labels == config.positive_index
    started = time.perf_counter()
    for epoch in range(state["epoch"] + 1, opts.epochs + 1):
        if state["stopped"]:
            break
        tick = time.perf_counter()
        sampler.set_epoch(epoch)
        train_ds.set_epoch(epoch)
        net.train()
        model_setup.hold_frozen(frozen)
        with progress_bar(len(sampler), f"epoch {epoch}/{opts.epochs}", opts.progress and dist.main) as bar:
            loss = train_epoch(
                net,
                train_loader,
                optimizer=optimizer,
                scaler=scaler,
                runtime=runtime,
                step_scheduler=scheduler,
                progress=bar,
                on_step=None if ema is None else lambda: ema.update(unwrap(model)),
            )
        if on_epoch is not None:
            on_epoch(epoch, unwrap(model), ema)
        evaluated = prepare_for_validation(
            unwrap(model), ema, train_loader, runtime=runtime, bn_reestimate=opts.bn_reestimate, frozen=frozen
        )
        scores = predict(evaluated, val_loader, runtime=runtime, positive_index=config.positive_index)
        m = binary_metrics(is_pos, scores, threshold=config.threshold)
        # AUC first; accuracy breaks ties (an easy set reaches AUC 1.0 before its threshold settles).
        score = [m["auc"] if m["auc"] is not None else -1.0, m["accuracy"]]
        state["history"].append(
            {
                "epoch": epoch,
                "train_loss": round(loss, 6),
                "val_auc": m["auc"],
                "val_auc_smoothed": None,
                "val_accuracy": m["accuracy"],
                "val_f1": m["f1"],
                "val_mcc": m["mcc"],
                "lr": optimizer.param_groups[0]["lr"],
                "seconds": round(time.perf_counter() - tick, 3),
            }
        )
        state["epoch"] = epoch
        improved = selector.step(score)
        state["history"][-1]["val_auc_smoothed"] = selector.smoothed
        if improved:
            state.update(
                best_epoch=epoch,
                best_scores=scores.tolist(),
                best_metrics={**m, "epoch": epoch},
            )
            best_weights = {k: v.detach().cpu().clone() for k, v in evaluated.state_dict().items()}
            if dist.main:
                save_checkpoint(
                    out / "checkpoint.pt",
                    state_dict=best_weights,
                    config=config,
                    metrics={**m, "epoch": epoch},
                    operating_points=validation_points(is_pos, scores),
                )
        state.update(stopped=selector.stop, selector=selector.state_dict())
        state["ema"] = None if ema is None else ema.state_dict()
        if dist.main:
            save_last(out, model, optimizer, scheduler, scaler, state, config, record=opts.record())
            write_history(out / "history.csv", state["history"])
        if opts.progress and dist.main:
            auc = "n/a" if m["auc"] is None else f"{m['auc']:.4f}"
            print(
                f"epoch {epoch}/{opts.epochs}  loss {loss:.4f}  val AUC {auc}  acc {m['accuracy']:.4f}"
                f"  ({state['history'][-1]['seconds']:.1f} s)",
                flush=True,
            )

    metrics = {
        **state["best_metrics"],
        **metrics_at_points(is_pos, np.array(state["best_scores"])),
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "early_stopped": state["stopped"],
        "classes": list(config.classes),
        "positive_class": config.positive_class,
        "n_train": len(train_set),
        "n_val": len(val_set),
        "train_seconds": round(time.perf_counter() - started, 3),
        "init": state["init"],
        "options": opts.record(),
        **(extra_metrics or {}),
    }
    if dist.main:
        write_json_atomic(out / "metrics.json", metrics)
        plot_roc(
            out / "roc.png",
            is_positive=is_pos,
            p_cluster=np.array(state["best_scores"]),
            title=f"{opts.arch}, epoch {state['best_epoch']}",
        )
        plot_curves(out / "curves.png", state["history"])
    dist.barrier()
    return metrics, best_weights
