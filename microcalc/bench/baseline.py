"""The baseline a user would otherwise write: PyTorch eager FP32, tile by tile, on the checkpoint.

``Preprocessing.apply`` + ``Checkpoint.build_model()`` + softmax under ``torch.no_grad``, batch 1,
on the same tiles and in the same run as the engine's variants, so every figure has a ratio to
it. The same model (batched) also gives the FP32 reference scores parity is measured against.
torch is imported here only, and only when this module is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bench.stats import latency_summary, median


class TorchReference:
    """The checkpoint's eager FP32 model with its recorded preprocessing: uint8 tiles -> p_cluster.

    The same function ``mc-export`` checks its variants against
    (:func:`microcalc.export.parity.torch_reference`), so both parity figures share one reference.
    """

    def __init__(self, checkpoint: str | Path) -> None:
        from microcalc.export.parity import torch_reference
        from microcalc.models.checkpoint import load_checkpoint

        self.checkpoint = load_checkpoint(checkpoint)
        self.config = self.checkpoint.config
        self.p_cluster: Callable[[np.ndarray], np.ndarray] = torch_reference(self.checkpoint)

    def scores(self, tiles: np.ndarray, *, batch_size: int = 8) -> np.ndarray:
        """Reference scores for many tiles, batched (FP32 results do not depend on the batch size)."""
        from microcalc.export.parity import batched

        return batched(self.p_cluster, tiles, batch=batch_size).astype(np.float32)


def measure_baseline(
    reference: TorchReference,
    tiles: np.ndarray,
    *,
    repeats: int,
    warmup: int,
    on_step: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Throughput of the tile-by-tile loop over ``tiles`` (each repeat runs every tile once).

    Returns the report's ``baseline`` object: ``patches_per_s`` (median over repeats),
    ``latency_ms`` per tile (p50/p90/p99/mean), ``batch_size`` 1 and ``tiles`` per repeat.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    for i in range(warmup):
        reference.p_cluster(tiles[i % len(tiles)][None])
    per_tile_ms: list[float] = []
    repeat_s: list[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        for tile in tiles:
            t0 = time.perf_counter()
            reference.p_cluster(tile[None])
            per_tile_ms.append((time.perf_counter() - t0) * 1e3)
        repeat_s.append(time.perf_counter() - start)
        if on_step is not None:
            on_step()
    return {
        "name": "pytorch-eager-fp32",
        "batch_size": 1,
        "tiles": len(tiles),
        "patches_per_s": median([len(tiles) / s for s in repeat_s]),
        "latency_ms": latency_summary(per_tile_ms),
    }
