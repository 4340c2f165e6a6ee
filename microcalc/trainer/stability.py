"""What keeps a small run's validation signal from swinging: weight EMA, BN re-estimation, smoothing.

On 636 real 60x60 patches a ResNet18 trained at LR 1e-3 saw its validation AUC jump between 0.45
and 0.95 from one epoch to the next (issue 21; benchmarks/REAL60.md measures why). Three remedies
live here, each a ``mc-train`` option that can be turned off:

* :class:`WeightEma`: an exponential moving average of every entry of the state dict (parameters
  and buffers), as timm's ``ModelEmaV3`` keeps, with a decay that warms up from 0 so that early
  epochs are not dominated by the random initialisation. The averaged model is the one validated,
  selected and saved, as a plain state dict, so ``mc-export`` sees an ordinary checkpoint.
* :func:`reestimate_bn`: BatchNorm running statistics recomputed as an exact average over training
  batches of the weights being evaluated, instead of the momentum-0.1 trail of weights that moved.
* :class:`SmoothedSelector`: checkpoint choice and early stopping on the mean of the last few
  epochs' validation scores, so a lucky epoch is not kept and an unlucky one does not stop the run.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

EMA_WARMUP_POWER = 2.0 / 3.0  # decay at step t is at most 1 - (1 + t) ** -power (timm's warm-up form)


class WeightEma:
    """A shadow copy of a model whose state is ``decay * shadow + (1 - decay) * model`` after each step.

    Floating-point entries are averaged; integer ones (``num_batches_tracked``) are copied. With
    ``warmup`` the decay at update ``t`` (counted from 1) is ``min(decay, 1 - (1 + t) ** -2/3)``:
    0.37 after the first step, 0.98 after 300, so a short run still averages over its last epochs.
    """

    def __init__(self, model: nn.Module, *, decay: float, warmup: bool = True) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"EMA decay must lie in (0, 1), got {decay}")
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.module = copy.deepcopy(model).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    def decay_at(self, update: int) -> float:
        """The decay applied at the ``update``-th call of :meth:`update` (1-based)."""
        if not self.warmup:
            return self.decay
        return min(self.decay, 1.0 - (1.0 + update) ** -EMA_WARMUP_POWER)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Fold the model's current state into the average (call after each optimizer step)."""
        self.updates += 1
        weight = 1.0 - self.decay_at(self.updates)
        for shadow, live in zip(self.module.state_dict().values(), model.state_dict().values(), strict=True):
            if shadow.is_floating_point():
                shadow.lerp_(live.detach().to(shadow.dtype), weight)
            else:
                shadow.copy_(live)

    def state_dict(self) -> dict[str, Any]:
        """What ``last.pt`` keeps for ``--resume``."""
        return {"module": self.module.state_dict(), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.module.load_state_dict(state["module"], strict=True)
        self.updates = int(state["updates"])


def has_batchnorm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@torch.no_grad()
def reestimate_bn(
    model: nn.Module, batches: Iterable[torch.Tensor], *, max_batches: int, keep: frozenset[str] = frozenset()
) -> int:
    """Replace every BatchNorm's running mean and variance by their average over ``batches``.

    Layers named in ``keep`` (those of ``--freeze``'s frozen modules, which trained in eval mode on
    their stored statistics) are left as they are.

    Each layer's statistics are reset and accumulated with ``momentum=None`` (PyTorch's cumulative
    average), i.e. the exact mean over the batches seen of each batch's mean and unbiased variance,
    which is what ``torch.optim.swa_utils.update_bn`` does. Returns the number of batches used;
    the model is left in eval mode with its momenta restored.
    """
    layers = [
        m
        for name, m in model.named_modules()
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and name not in keep
    ]
    if not layers:
        return 0
    momenta = [m.momentum for m in layers]
    for m in layers:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for name, m in model.named_modules():
        if name in keep:
            m.eval()
    used = 0
    for x in batches:
        if used >= max_batches:
            break
        model(x)
        used += 1
    for m, momentum in zip(layers, momenta, strict=True):
        m.momentum = momentum
    model.eval()
    return used


class SmoothedSelector:
    """Best-checkpoint choice and early stopping on the trailing mean of ``window`` epoch scores.

    Scores are ``[AUC, accuracy]`` lists compared lexicographically; the first entry is averaged over
    the last ``window`` epochs (fewer at the start), the tie-breaker is the current epoch's. With
    ``window=1`` it is the plain per-epoch rule. ``patience`` epochs without a better smoothed score
    stop the run (0: never).
    """

    def __init__(self, *, window: int, patience: int) -> None:
        if window < 1:
            raise ValueError(f"smoothing window must be at least 1 epoch, got {window}")
        self.window, self.patience = window, patience
        self.recent: list[float] = []
        self.best: list[float] = [-2.0, -1.0]
        self.bad_epochs = 0

    def step(self, score: list[float]) -> bool:
        """Record one epoch's score; True when the smoothed score is a new best (save this epoch)."""
        self.recent = (self.recent + [score[0]])[-self.window :]
        smoothed = [self.smoothed, *score[1:]]
        if smoothed > self.best:
            self.best, self.bad_epochs = smoothed, 0
            return True
        self.bad_epochs += 1
        return False

    @property
    def smoothed(self) -> float | None:
        """The trailing mean of the last ``window`` first entries (None before the first epoch)."""
        return sum(self.recent) / len(self.recent) if self.recent else None

    @property
    def stop(self) -> bool:
        return bool(self.patience and self.bad_epochs >= self.patience)

    def state_dict(self) -> dict[str, Any]:
        return {"recent": list(self.recent), "best": list(self.best), "bad_epochs": self.bad_epochs}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.recent, self.best = list(state["recent"]), list(state["best"])
        self.bad_epochs = int(state["bad_epochs"])
