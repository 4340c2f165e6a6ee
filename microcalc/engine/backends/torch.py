"""The PyTorch backend: the checkpoint's own network, as :class:`TileClassifier` runs it.

On the CPU it is the reference that parity is measured against and the fallback for a
checkpoint not yet exported: one batch at a time, all of it compute. On CUDA it is a first-class
fast path (:mod:`~microcalc.engine.backends.torch_cuda`): pinned host buffers, non-blocking
copies, a stream per slot with several batches in flight, CUDA graphs per batch size,
channels_last, FP16 or BF16 autocast, and the H2D / compute / D2H split from CUDA events. torch
is imported only here, in ``_activate_impl``, so the engine runs without it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends import availability, registry
from microcalc.engine.backends.base import Backend, BatchResult, PendingBatch
from microcalc.errors import MicrocalcError, import_optional

# torch runs the checkpoint, not an exported variant, so its precisions are its own
TORCH_PRECISIONS = {"cpu": ("fp32",), "cuda": ("fp32", "fp16", "bf16")}


class TorchBackend(Backend):
    """Scores tiles with ``TileClassifier.from_checkpoint(load_checkpoint(path))``.

    Args:
        checkpoint_path: any checkpoint ``load_checkpoint`` reads (ours, published, torchvision), or
            several of one architecture: an ensemble, run as the mean of its members as exported.
        input_shape, max_batch: as :class:`Backend`.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        precision: ``fp32``; on CUDA also ``fp16`` or ``bf16`` (autocast).
        slots: CUDA batches in flight (at least 2).
        cuda_graph: on CUDA, replay each padded batch size from a captured CUDA graph.
    """

    name = "torch"
    module = "torch"
    extra = "train"

    def __init__(
        self,
        checkpoint_path: str | Path | Sequence[str | Path],
        *,
        input_shape: tuple[int, int, int],
        max_batch: int,
        device: str = "cpu",
        precision: str = "fp32",
        slots: int = 3,
        cuda_graph: bool = True,
    ) -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        kind, _, index = device.partition(":")
        if kind not in TORCH_PRECISIONS or (index and (kind == "cpu" or not index.isdigit())):
            raise MicrocalcError(f"unknown torch device {device!r}; expected cpu, cuda or cuda:N")
        if precision not in TORCH_PRECISIONS[kind]:
            raise MicrocalcError(
                f"the torch backend runs {', '.join(TORCH_PRECISIONS[kind])} on {kind}, not {precision}"
            )
        if slots < 2:
            raise ValueError(f"slots must be at least 2 (copies overlap compute), got {slots}")
        paths = [checkpoint_path] if isinstance(checkpoint_path, (str, Path)) else checkpoint_path
        self.checkpoint_paths = tuple(Path(p) for p in paths)
        self.checkpoint_path = self.checkpoint_paths[0]
        self.device, self.device_index, self.precision = kind, int(index or 0), precision
        self.slots, self.cuda_graph = slots, cuda_graph
        self.model: Any = None
        self.runner: Any = None

    def _activate_impl(self) -> None:
        torch = import_optional("torch", extra=self.extra, purpose="the torch backend")
        from microcalc.models.checkpoint import load_checkpoint
        from microcalc.models.ensemble import tile_model_of

        if self.device == "cuda":
            from microcalc.engine.backends.torch_cuda import require_cuda

            require_cuda(torch, self.device_index)
        checkpoints = [load_checkpoint(p) for p in self.checkpoint_paths]
        checkpoint = checkpoints[0]
        patch = checkpoint.config.patch_size
        if self.input_shape != (1, patch, patch):
            raise MicrocalcError(
                f"{self.checkpoint_path}: the model takes {patch}x{patch} tiles, "
                f"the backend was configured for {self.input_shape[1]}x{self.input_shape[2]}"
            )
        self._torch = torch
        model = tile_model_of(checkpoints).eval()
        if self.device == "cpu":
            self.model = model
            return
        from microcalc.engine.backends.torch_cuda import CudaRunner, TorchCuda

        api = TorchCuda(torch, self.device_index)
        self.model = model.to(api.device)
        self.runner = CudaRunner(
            api,
            self.model,
            input_shape=self.input_shape,
            max_batch=self.max_batch,
            slots=self.slots,
            precision=self.precision,
            cuda_graph=self.cuda_graph,
        )

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        return (
            super()._host_buffer_impl(batch_size)
            if self.runner is None
            else self.runner.host_buffer(batch_size)
        )

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        if self.runner is not None:
            return self.runner.submit(batch, n)
        torch = self._torch
        start = time.perf_counter()
        with torch.inference_mode():  # on the CPU there are no copies: torch.from_numpy shares the buffer
            p_cluster, cam = self.model(torch.from_numpy(batch[:n]))
        result = BatchResult(
            p_cluster=p_cluster.numpy().copy(),
            cam=cam.numpy().copy(),
            timings_ms={"compute": (time.perf_counter() - start) * 1e3},
        )
        return PendingBatch(lambda: result)

    def _deactivate_impl(self) -> None:
        if self.runner is not None:
            self.runner.close()
        self.model, self.runner = None, None


def _from_bundle(bundle: Any, *, precision: str, device: str, max_batch: int, **options: Any) -> Backend:
    """The bundle's source checkpoint (checked against its SHA-256), in torch's own precisions."""
    shape = registry.tile_shape(bundle)
    return TorchBackend(
        bundle.source_checkpoints(),
        input_shape=shape,
        max_batch=max_batch,
        device=device,
        precision=precision,
        **options,
    )


registry.register(
    registry.BackendSpec(
        name=TorchBackend.name,
        devices=tuple(TORCH_PRECISIONS),
        precisions=tuple(dict.fromkeys(p for runs in TORCH_PRECISIONS.values() for p in runs)),
        from_bundle=_from_bundle,
        status=availability.torch_status,
        reference=True,
    )
)
