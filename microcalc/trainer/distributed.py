"""Multi-GPU training through torchrun: the same ``mc-train`` command, DistributedDataParallel.

torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; without them training is a single
process. Every rank computes the same validation metrics (same weights, same data), so early
stopping agrees without communication; only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DDP-wrap ``model`` when running under torchrun; the bare model otherwise."""
        if self.world == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def init_distributed() -> Dist:
    """Join the torchrun process group if there is one (NCCL on GPUs, Gloo on CPUs)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return Dist()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not torch.distributed.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend="nccl" if cuda else "gloo")
    return Dist(rank=torch.distributed.get_rank(), world=world, local_rank=local_rank)


def unwrap(model: nn.Module) -> nn.Module:
    return model.module if hasattr(model, "module") else model
