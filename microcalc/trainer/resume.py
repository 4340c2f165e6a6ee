"""``--resume``: what a training run saves after every epoch, and how it is put back."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import torch

from microcalc.errors import InputError
from microcalc.model_config import ModelConfig
from microcalc.models.checkpoint import load_checkpoint, save_checkpoint
from microcalc.trainer.distributed import unwrap


def save_last(
    out: Path,
    model,
    optimizer,
    scheduler,
    scaler,
    state: dict,
    config: ModelConfig,
    *,
    record: dict[str, Any],
) -> None:
    """Write ``last.pt``: the weights plus everything ``--resume`` needs to go on exactly (optimizer,
    schedule, scaler, RNG, the run's bookkeeping and its options)."""
    training_state = {
        **state,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "options": record,
    }
    save_checkpoint(
        out / "last.pt",
        state_dict=unwrap(model).state_dict(),
        config=config,
        metrics=state["best_metrics"],
        training_state=training_state,
    )


def restore(out: Path, model, optimizer, scheduler, scaler, state: dict, config: ModelConfig) -> dict:
    """Load ``last.pt`` for ``--resume``; returns the best weights so far (from ``checkpoint.pt``)."""
    last = load_checkpoint(out / "last.pt")
    if last.training_state is None:
        raise InputError(f"{out / 'last.pt'}: holds no training state to resume from")
    if last.config.to_dict() != config.to_dict():
        raise InputError(
            f"{out / 'last.pt'}: was trained as {last.config.arch} on classes "
            f"{list(last.config.classes)} at {last.config.patch_size} px; the options given differ"
        )
    ts = last.training_state
    model.load_state_dict(last.state_dict, strict=True)
    optimizer.load_state_dict(ts["optimizer"])
    scheduler.load_state_dict(ts["scheduler"])
    scaler.load_state_dict(ts["scaler"])
    torch.set_rng_state(ts["torch_rng"])
    state.update({k: copy.deepcopy(ts[k]) for k in state if k in ts})
    best = out / "checkpoint.pt"
    return load_checkpoint(best).state_dict if best.is_file() else dict(last.state_dict)
