"""The optimizer and the per-step learning-rate schedule of a training run."""

from __future__ import annotations

import math

import torch

from microcalc.errors import InputError

OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("cosine", "step", "constant")


def make_optimizer(params: list, *, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """The optimizer ``--optimizer`` names (SGD with Nesterov momentum 0.9)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay, momentum=0.9, nesterov=True)
    raise InputError(f"--optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def make_schedule(
    optimizer: torch.optim.Optimizer,
    *,
    schedule: str,
    epochs: int,
    warmup_epochs: int,
    steps_per_epoch: int,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step LR multiplier: linear warm-up, then cosine to zero, x0.1 steps at 1/2 and 3/4, or flat."""
    if schedule not in SCHEDULES:
        raise InputError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
    total, warm = epochs * steps_per_epoch, warmup_epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        t = (step - warm) / max(total - warm, 1)
        if schedule == "cosine":
            return 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))
        if schedule == "step":
            return 0.1 ** ((t >= 0.5) + (t >= 0.75))
        return 1.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
