"""Build the model to train: architecture, transfer-learning init, and which layers are frozen.

``--init`` takes ImageNet weights in torchvision format or any of our checkpoints (double
transfer learning: ImageNet -> an intermediate mammography set -> the target). Every tensor
except the classifier must match exactly (strict loading); the classifier is re-initialised
when the class count differs.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from microcalc.errors import InputError
from microcalc.models import create_model

FREEZE_MODES = ("none", "partial", "head")


def build_model(arch: str, *, num_classes: int, in_chans: int) -> nn.Module:
    try:
        return create_model(arch, num_classes=num_classes, in_chans=in_chans)
    except ValueError as exc:
        raise InputError(f"--arch: {exc}") from exc


def _head_keys(model: nn.Module) -> set[str]:
    head = model.classifier_module()
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)] for p in head.parameters()}


def load_init(model: nn.Module, path: str | Path, *, arch: str) -> dict[str, str]:
    """Load ``path`` into ``model``; the classifier is kept fresh if its shape differs.

    Returns a description (``source``, ``head``: ``loaded`` or ``reinitialised``) for the record.

    Raises:
        InputError: unreadable file, another architecture, or any non-classifier tensor mismatch.
    """
    from microcalc.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    if ckpt.config.arch != arch:
        raise InputError(f"{path}: --init weights are for {ckpt.config.arch}, but --arch is {arch}")
    target = model.state_dict()
    head = _head_keys(model)
    state = dict(ckpt.state_dict)
    mismatched = sorted(k for k in state if k in target and state[k].shape != target[k].shape)
    if mismatched and not set(mismatched) <= head:
        raise InputError(
            f"{path}: tensor {mismatched[0]} has shape {tuple(state[mismatched[0]].shape)}, "
            f"the model needs {tuple(target[mismatched[0]].shape)}"
        )
    reinit = bool(mismatched)
    if reinit:
        state = {k: v for k, v in state.items() if k not in head}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - (head if reinit else set()):
        bad = (list(unexpected) or sorted(set(missing) - head))[0]
        raise InputError(f"{path}: weights do not match {arch} (first bad key: {bad})")
    return {
        "path": str(path),
        "source": ckpt.source,
        "head": "reinitialised" if reinit else "loaded",
        "weights_sha256": ckpt.weights_sha256,
    }


def frozen_modules(model: nn.Module, mode: str) -> list[nn.Module]:
    """The modules ``--freeze mode`` keeps fixed (weights and batch-norm statistics)."""
    if mode == "none":
        return []
    if mode == "partial":
        return list(model.stem_modules())
    if mode == "head":
        head = model.classifier_module()
        return [m for m in model.children() if m is not head]
    raise InputError(f"--freeze must be one of {', '.join(FREEZE_MODES)}, got {mode!r}")


def apply_freeze(model: nn.Module, mode: str) -> list[nn.Module]:
    """Stop gradients through the frozen modules; returns them (call :func:`hold_frozen` after
    ``train()``)."""
    modules = frozen_modules(model, mode)
    for module in modules:
        for p in module.parameters():
            p.requires_grad_(False)
    if mode != "none" and not any(p.requires_grad for p in model.parameters()):
        raise InputError(f"--freeze {mode} leaves nothing to train for this architecture")
    return modules


def hold_frozen(modules: list[nn.Module]) -> None:
    """Keep frozen modules in eval mode so batch-norm running statistics stay fixed too."""
    for module in modules:
        module.eval()


def trainable_parameters(model: nn.Module) -> list[torch.nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]
