"""The CUDA fast path of the torch backend: several batches in flight, CUDA graphs, an honest split.

Each of ``slots`` slots owns a CUDA stream, four timing events (``start``, ``h2d``, ``compute``,
``d2h``), a device input buffer and pinned output buffers. A batch is queued on the next slot as
a non-blocking copy from pinned memory, the network (a replayed CUDA graph, or eager), and
non-blocking copies of the outputs back, with an event after each stage and no synchronisation;
``result()`` waits on that slot's last event only, so the copies of one batch overlap the
compute of the others. ``host_buffer`` hands out pinned memory; a batch in ordinary memory is
first copied into the slot's pinned staging buffer.

CUDA graphs: one per slot and padded batch size (the next power of two, at most ``max_batch``),
captured on first use on the slot's stream after a warm-up there. A partial batch is padded with
zero tiles up to its graph's size and only its own rows are copied back. A graph is only ever
replayed for the size it was captured at; a capture that fails is logged once and that size runs
eagerly from then on. The network runs in ``channels_last`` and, for ``fp16``/``bf16``, under
autocast (the uint8 scaling and the softmax stay float32, as in the exported FP16 model).

torch is never imported here: the backend passes its module in (:class:`TorchCuda`), so the
slot, padding and graph logic run on the CPU in tests through a stand-in with the same methods.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microcalc.engine.backends.base import STAGES, BatchResult, PendingBatch
from microcalc.errors import MicrocalcError

MARKS = ("start", *STAGES)
log = logging.getLogger(__name__)


def padded_batch(n: int, max_batch: int) -> int:
    """The graph batch size that runs ``n`` tiles: the next power of two, at most ``max_batch``."""
    if not 1 <= n <= max_batch:
        raise ValueError(f"n must lie in [1, {max_batch}], got {n}")
    return min(1 << (n - 1).bit_length(), max_batch)


def stage_times(events: dict[str, Any]) -> dict[str, float]:
    """``{stage: ms}`` between consecutive marks of recorded, completed timing events."""
    return {b: float(events[a].elapsed_time(events[b])) for a, b in itertools.pairwise(MARKS)}


class TorchCuda:
    """What the runner needs from ``torch.cuda``, on one device (torch 2.x API)."""

    def __init__(self, torch: Any, device_index: int) -> None:
        self.torch = torch
        self.device = torch.device("cuda", device_index)

    def stream(self) -> Any:
        return self.torch.cuda.Stream(device=self.device)

    def event(self) -> Any:
        return self.torch.cuda.Event(enable_timing=True)

    def on(self, stream: Any) -> Any:
        """Make ``stream`` (and its device) current in this thread for the ``with`` block."""
        return self.torch.cuda.stream(stream)

    def pinned(self, shape: tuple[int, ...], dtype: Any) -> Any:
        return self.torch.empty(shape, dtype=dtype, pin_memory=True)

    def capture(self, fn: Callable[[], Any], stream: Any) -> tuple[Any, Any]:
        """``(graph, outputs)``: ``fn`` warmed up on ``stream``, then captured there."""
        cuda = self.torch.cuda
        with cuda.stream(stream):
            for _ in range(2):  # cuDNN autotuning and lazy initialisation stay out of the graph
                fn()
        stream.synchronize()
        graph = cuda.CUDAGraph()
        with cuda.graph(
            graph, stream=stream, capture_error_mode="thread_local"
        ):  # other threads may use CUDA
            outputs = fn()
        return graph, outputs

    def synchronize(self) -> None:
        self.torch.cuda.synchronize(self.device)

    def strict_fp32(self) -> None:
        """Turn off TF32 in convolutions and matmuls (process-wide in torch): ``fp32`` must mean FP32,
        or its parity against the CPU reference drifts to ~1e-3 on Ampere and newer."""
        self.torch.backends.cudnn.allow_tf32 = False
        self.torch.backends.cuda.matmul.allow_tf32 = False


@dataclass
class _Slot:
    stream: Any
    events: dict[str, Any]
    input: Any  # device uint8 [max_batch, 1, P, P]
    staging: Any  # pinned uint8, for batches not from host_buffer
    p_cluster: Any  # pinned float32 [max_batch]
    cam: Any  # pinned float32 [max_batch, h, w]
    graphs: dict[int, tuple[Any, Any] | None] = field(default_factory=dict)  # size -> (graph, outputs)
    pending: PendingBatch | None = None


class CudaRunner:
    """Runs ``model`` (a ``TileClassifier`` on the device) over batches, ``slots`` in flight.

    Args:
        api: :class:`TorchCuda` (or a stand-in with its methods).
        model: the network, already on the device and in eval mode.
        input_shape, max_batch: as the backend's.
        slots: batches in flight (at least 2 so copies overlap compute).
        precision: ``fp32``, ``fp16`` or ``bf16``.
        cuda_graph: replay each padded batch size from a CUDA graph.
        device_type: the autocast device type (``cuda``; the CPU stand-in passes ``cpu``).
    """

    def __init__(
        self,
        api: Any,
        model: Any,
        *,
        input_shape: tuple[int, ...],
        max_batch: int,
        slots: int = 3,
        precision: str = "fp32",
        cuda_graph: bool = True,
        device_type: str = "cuda",
    ) -> None:
        if slots < 2:
            raise ValueError(f"slots must be at least 2 (copies overlap compute), got {slots}")
        torch = api.torch
        self.api, self.torch, self.input_shape, self.max_batch = api, torch, tuple(input_shape), max_batch
        self.cuda_graph, self.device_type = cuda_graph, device_type
        self.autocast_dtype = {"fp32": None, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        if self.autocast_dtype is None:
            api.strict_fp32()
        self.model = model.to(memory_format=torch.channels_last)
        self.graph_failures: dict[int, str] = {}
        self._pinned: dict[int, Any] = {}  # numpy address of a host_buffer -> its pinned tensor
        with torch.inference_mode(), self._autocast():  # the CAM's size, and a first (untimed) run
            cam_hw = tuple(
                self.model(torch.zeros((1, *self.input_shape), dtype=torch.uint8, device=api.device))[
                    1
                ].shape[1:]
            )
        self._slots = [self._slot(cam_hw) for _ in range(slots)]
        api.synchronize()
        self._next = 0

    def _slot(self, cam_hw: tuple[int, ...]) -> _Slot:
        torch, api = self.torch, self.api
        return _Slot(
            stream=api.stream(),
            events={m: api.event() for m in MARKS},
            input=torch.zeros((self.max_batch, *self.input_shape), dtype=torch.uint8, device=api.device),
            staging=api.pinned((self.max_batch, *self.input_shape), torch.uint8),
            p_cluster=api.pinned((self.max_batch,), torch.float32),
            cam=api.pinned((self.max_batch, *cam_hw), torch.float32),
        )

    def _autocast(self) -> Any:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        # cache_enabled=False: autocast's weight cache must not outlive a graph capture
        return self.torch.autocast(self.device_type, dtype=self.autocast_dtype, cache_enabled=False)

    def host_buffer(self, batch_size: int) -> np.ndarray:
        """A pinned ``[batch_size, 1, P, P]`` uint8 buffer (a numpy view of a pinned tensor)."""
        tensor = self.api.pinned((batch_size, *self.input_shape), self.torch.uint8)
        array = tensor.numpy()
        self._pinned[array.ctypes.data] = tensor
        return array

    def submit(self, batch: np.ndarray, n: int) -> PendingBatch:
        """Queue ``batch[:n]`` on the next slot; the batch must not be refilled before ``result()``."""
        slot = self._slots[self._next]
        self._next = (self._next + 1) % len(self._slots)
        if slot.pending is not None:
            slot.pending.result()  # the slot's previous batch must leave its buffers first
        source = self._pinned.get(batch.ctypes.data)
        if source is None or source.shape[0] < n:
            np.copyto(slot.staging.numpy()[:n], batch[:n])
            source = slot.staging
        size = padded_batch(n, self.max_batch) if self.cuda_graph else n
        ev = slot.events
        with self.api.on(slot.stream), self.torch.inference_mode():
            ev["start"].record(slot.stream)
            slot.input[:n].copy_(source[:n], non_blocking=True)
            if size > n:
                slot.input[n:size].zero_()  # padding rows: zero tiles, scored and dropped
            ev["h2d"].record(slot.stream)
            p_cluster, cam = self._forward(slot, size)
            ev["compute"].record(slot.stream)
            slot.p_cluster[:n].copy_(p_cluster[:n], non_blocking=True)
            slot.cam[:n].copy_(cam[:n], non_blocking=True)
            ev["d2h"].record(slot.stream)

        def wait() -> BatchResult:
            ev["d2h"].synchronize()
            slot.pending = None
            return BatchResult(
                p_cluster=slot.p_cluster.numpy()[:n].copy(),
                cam=slot.cam.numpy()[:n].copy(),
                timings_ms=stage_times(ev),
            )

        slot.pending = PendingBatch(wait)
        return slot.pending

    def _forward(self, slot: _Slot, size: int) -> tuple[Any, Any]:
        """The network on ``slot.input[:size]``: this size's graph when there is one, else eager."""
        graph = self._graph(slot, size) if self.cuda_graph else None
        if graph is not None:
            graph[0].replay()
            return graph[1]
        with self._autocast():
            return self.model(slot.input[:size])

    def _graph(self, slot: _Slot, size: int) -> tuple[Any, Any] | None:
        if size in slot.graphs:
            return slot.graphs[size]
        slot.graphs[size] = None
        if size in self.graph_failures:
            return None
        static_input = slot.input[:size]

        def run() -> Any:
            with self._autocast():
                return self.model(static_input)

        try:
            slot.graphs[size] = self.api.capture(run, slot.stream)
        except RuntimeError as exc:  # torch reports capture errors as RuntimeError
            self.graph_failures[size] = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            log.warning(
                "torch: no CUDA graph for batches of %d, eager instead (%s)", size, self.graph_failures[size]
            )
        return slot.graphs[size]

    def close(self) -> None:
        """Wait for every batch in flight, then drop graphs and buffers."""
        for slot in self._slots:
            if slot.pending is not None:
                slot.pending.result()
        self._slots, self._pinned = [], {}


def require_cuda(torch: Any, device_index: int) -> None:
    """One-line error unless torch sees CUDA device ``device_index``."""
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device_index >= count:
        raise MicrocalcError(
            f"the torch backend was asked for cuda:{device_index}, but torch sees {count} CUDA device(s)"
        )
