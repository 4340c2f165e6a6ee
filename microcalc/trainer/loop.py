"""One epoch of training, and scoring a data set: devices, mixed precision, channels_last.

Mixed precision: ``auto`` is bf16 autocast on a GPU that supports it (fp16 with a gradient
scaler otherwise); on a CPU it is bf16 only where the CPU has AMX tiles (a smallcnn training
step at 128x128, batch 32, took 0.25 s in bf16 against 0.71 s in float32 on a 2-core Sapphire
Rapids slice) and float32 elsewhere, where bf16 is emulated and slower, and where oneDNN is
capped below AMX (``ONEDNN_MAX_CPU_ISA``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader

AMP_MODES = ("auto", "off", "bf16", "fp16")


@dataclass(frozen=True)
class Runtime:
    """Where and how tensors run: device, autocast dtype (None = float32), memory format."""

    device: torch.device
    amp_dtype: torch.dtype | None
    channels_last: bool

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def to_device(self, x: torch.Tensor) -> torch.Tensor:
        x = x.to(self.device, non_blocking=True)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def grad_scaler(self) -> torch.amp.GradScaler:
        """A real scaler for fp16 (its gradients underflow), a pass-through one otherwise."""
        return torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)


def onednn_cap_allows_amx(cap: str | None) -> bool:
    """Whether oneDNN's ISA cap (``ONEDNN_MAX_CPU_ISA``, e.g. ``AVX512_CORE_VNNI``) leaves AMX on.

    A CPU capped below AMX must train as one without it (``make test HOST_MODE=noamx``): oneDNN
    then emulates bf16, so ``--amp auto`` would be slower and numerically another host.
    """
    return cap is None or cap.strip().upper() in ("", "ALL", "DEFAULT") or "AMX" in cap.upper()


def cpu_has_amx() -> bool:
    """Whether this CPU multiplies bf16 in hardware (AMX) and oneDNN may use it.

    torch exposes the hardware probe only privately, and it does not read oneDNN's ISA cap.
    """
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA", os.environ.get("DNNL_MAX_CPU_ISA"))
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return onednn_cap_allows_amx(cap) and (bool(probe()) if probe is not None else False)


def make_runtime(
    *, device: str = "auto", amp: str = "auto", channels_last: bool | None = None, local_rank: int = 0
) -> Runtime:
    """Resolve ``--device`` / ``--amp`` / ``--channels-last`` into a :class:`Runtime`."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(f"cuda:{local_rank}" if device == "cuda" else device)
    if amp not in AMP_MODES:
        raise ValueError(f"unknown --amp {amp!r}; expected one of {', '.join(AMP_MODES)}")
    if amp == "auto":
        if dev.type == "cuda":
            amp = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        else:
            amp = "bf16" if cpu_has_amx() else "off"
    dtype = {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]
    if dtype is torch.float16 and dev.type != "cuda":
        raise ValueError("--amp fp16 needs a GPU; use --amp bf16 on a CPU")
    return Runtime(
        device=dev,
        amp_dtype=dtype,
        channels_last=dev.type == "cuda" if channels_last is None else channels_last,
    )


def train_epoch(
    model: nn.Module,
    loader: DataLoader,
    *,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    runtime: Runtime,
    step_scheduler=None,
    progress=None,
    on_step: Callable[[], None] | None = None,
) -> float:
    """One pass over ``loader``; returns the mean cross-entropy. ``progress`` is a tqdm-like bar;
    ``on_step`` runs after each optimizer step (the weight EMA's update)."""
    loss_fn = nn.CrossEntropyLoss()
    total, count = 0.0, 0
    for x, y in loader:
        x, y = runtime.to_device(x), y.to(runtime.device)
        optimizer.zero_grad(set_to_none=True)
        with runtime.autocast():
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if step_scheduler is not None:
            step_scheduler.step()
        if on_step is not None:
            on_step()
        total += float(loss.detach()) * len(y)
        count += len(y)
        if progress is not None:
            progress.update(len(y))
            progress.set_postfix(loss=f"{total / count:.4f}")
    return total / max(count, 1)


@torch.no_grad()
def predict(model: nn.Module, loader: DataLoader, *, runtime: Runtime, positive_index: int) -> np.ndarray:
    """Softmax probability of the positive (cluster) class for every item, in loader order."""
    model.eval()
    scores = []
    for x, _ in loader:
        with runtime.autocast():
            logits = model(runtime.to_device(x))
        scores.append(torch.softmax(logits.float(), dim=1)[:, positive_index].cpu().numpy())
    return np.concatenate(scores) if scores else np.zeros(0, dtype=np.float32)
