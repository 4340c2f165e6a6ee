"""The PyTorch reference backend: the checkpoint's own network, as :class:`TileClassifier` runs it.

Slow next to the exported backends and never chosen automatically; it is the reference that
parity is measured against and the fallback for a checkpoint not yet exported. torch is imported
only here, in ``_activate_impl``, so the engine runs without it.

``precision``: ``fp32`` everywhere; ``fp16`` on CUDA runs the network under autocast (the
preprocessing and the softmax stay float32, as in the exported FP16 model). INT8 is not offered.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends.base import (
    Backend,
    BatchResult,
    PendingBatch,
    check_precision,
    import_optional,
)
from microcalc.errors import MicrocalcError


class TorchBackend(Backend):
    """Scores tiles with ``TileClassifier.from_checkpoint(load_checkpoint(path))``.

    Args:
        checkpoint_path: any checkpoint ``load_checkpoint`` reads (ours, published, torchvision).
        input_shape, max_batch: as :class:`Backend`.
        device: ``cpu`` or ``cuda``.
        precision: ``fp32``, or ``fp16`` on CUDA.
    """

    name = "torch"
    module = "torch"
    extra = "train"

    def __init__(self, checkpoint_path: str | Path, *, input_shape: tuple[int, int, int], max_batch: int,
                 device: str = "cpu", precision: str = "fp32") -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        if device not in ("cpu", "cuda"):
            raise MicrocalcError(f"unknown torch device {device!r}; expected cpu or cuda")
        if check_precision(precision) == "int8" or (precision == "fp16" and device == "cpu"):
            raise MicrocalcError(f"the torch backend runs fp32 (and fp16 on cuda), not {precision} on {device}")
        self.checkpoint_path = Path(checkpoint_path)
        self.device, self.precision = device, precision
        self.model: Any = None

    def _activate_impl(self) -> None:
        torch = import_optional("torch", extra=self.extra, purpose="the torch reference backend")
        if self.device == "cuda" and not torch.cuda.is_available():
            raise MicrocalcError("the torch backend was asked for cuda, but torch sees no CUDA device")
        from microcalc.models.checkpoint import load_checkpoint
        from microcalc.models.tile_model import TileClassifier

        checkpoint = load_checkpoint(self.checkpoint_path)
        patch = checkpoint.config.patch_size
        if self.input_shape != (1, patch, patch):
            raise MicrocalcError(f"{self.checkpoint_path}: the model takes {patch}x{patch} tiles, "
                                 f"the backend was configured for {self.input_shape[1]}x{self.input_shape[2]}")
        self._torch = torch
        self.model = TileClassifier.from_checkpoint(checkpoint).to(self.device).eval()

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        torch = self._torch
        start = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16,
                                                     enabled=self.precision == "fp16"):
            p_cluster, cam = self.model(torch.from_numpy(batch[:n]).to(self.device))
        result = BatchResult(p_cluster=p_cluster.float().cpu().numpy(), cam=cam.float().cpu().numpy(),
                             timings_ms={"compute": (time.perf_counter() - start) * 1e3})
        return PendingBatch(lambda: result)

    def _deactivate_impl(self) -> None:
        self.model = None
