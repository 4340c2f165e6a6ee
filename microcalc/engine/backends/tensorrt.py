"""TensorRT backend: native engines from the bundle, through ``tensorrt`` or ``tensorrt_rtx``.

Both libraries share the runtime API, so one code path serves them; the engine's sidecar says
which one built it. Before deserialising, :func:`~microcalc.engine.backends.engine_check.check_engine`
refuses an engine built by another library or version, for another GPU architecture, from
another ONNX model, or for smaller batches, with the ``mc-export`` command that rebuilds it;
after, :mod:`~microcalc.engine.backends.tensorrt_io` checks the engine's tensors and profile.

Execution (cuda-python, :mod:`microcalc.engine.cuda_memory`): ``num_streams`` (>= 2) slots,
each with its own execution context, stream, events, device input and pinned output buffers.
A batch is queued on the next slot as H2D copy -> ``execute_async_v3`` -> D2H copies, with an
event after each stage and no synchronisation in between, so the copies of one batch overlap
the compute of the other; ``result()`` waits on that slot's last event and reports the
``h2d``/``compute``/``d2h`` split. ``host_buffer`` returns pinned memory; a batch in ordinary
memory is first copied into the slot's pinned staging buffer.

CUDA graphs (``cuda_graph=True``, captured by :mod:`~microcalc.engine.backends.cuda_graphs`): one
graph per slot and batch size, each on an execution context of its own that never runs another
shape. A capture that fails is logged once and that batch size runs through plain
``execute_async_v3`` from then on.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine import cuda_memory
from microcalc.engine.backends import availability, registry
from microcalc.engine.backends.base import PRECISIONS, Backend, BatchResult, PendingBatch
from microcalc.engine.backends.cuda_graphs import CapturedGraph, capture
from microcalc.engine.backends.engine_check import check_engine, engine_files
from microcalc.engine.backends.tensorrt_io import bind, check_io, output_shapes
from microcalc.errors import MicrocalcError, StaleArtifactError, import_optional
from microcalc.tensor_names import INPUT, OUTPUTS

LIBRARIES = {"tensorrt": "tensorrt", "tensorrt_rtx": "rtx"}  # library -> pip extra
log = logging.getLogger(__name__)


@dataclass
class _Slot:
    """What one stream owns: nothing here is shared with the other slots."""

    context: Any
    stream: Any
    staging: Any  # HostDeviceMem: pinned staging + device input
    outputs: dict[str, Any]  # name -> HostDeviceMem
    pending: PendingBatch | None = None
    graphs: dict[int, CapturedGraph | None] = field(
        default_factory=dict
    )  # batch size -> graph (None: capture failed)

    def addresses(self) -> dict[str, int]:
        return {
            INPUT: int(self.staging.device_ptr),
            **{k: int(m.device_ptr) for k, m in self.outputs.items()},
        }


class TensorRTBackend(Backend):
    """Runs a TensorRT / TensorRT-RTX engine of a bundle on one GPU.

    Args:
        engine_path: the serialized engine.
        sidecar: its JSON sidecar (library, version, compute capabilities, profile, ONNX SHA-256).
        onnx_sha256: SHA-256 of the bundle's ONNX model of the same precision.
        rebuild: the hint that ends every stale-engine message.
        input_shape, max_batch: as :class:`Backend`.
        num_streams: slots in flight (at least 2 so that copies overlap compute).
        cuda_graph: replay each batch size from a CUDA graph captured for it.
        device_id: the CUDA device.
    """

    name = "tensorrt"
    module = "tensorrt_rtx"
    extra = "rtx"

    def __init__(
        self,
        engine_path: str | Path,
        *,
        sidecar: dict[str, Any],
        onnx_sha256: str | None,
        rebuild: str,
        input_shape: tuple[int, int, int],
        max_batch: int,
        num_streams: int = 2,
        cuda_graph: bool = False,
        device_id: int = 0,
    ) -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        if num_streams < 2:
            raise ValueError(f"num_streams must be at least 2 (copies overlap compute), got {num_streams}")
        self.engine_path = Path(engine_path)
        self.sidecar = dict(sidecar)
        self.library = str(self.sidecar.get("library") or "tensorrt_rtx")
        if self.library not in LIBRARIES:
            raise StaleArtifactError(
                f"{self.engine_path}: unknown TensorRT library {self.library!r} in its sidecar; {rebuild}"
            )
        self.onnx_sha256, self.rebuild = onnx_sha256, rebuild
        self.num_streams, self.cuda_graph, self.device_id = num_streams, cuda_graph, device_id
        self.graph_failures: dict[int, str] = {}  # batch size -> why its capture failed
        self._engine: Any = None
        self._slots: list[_Slot] = []
        self._pinned: dict[int, tuple[int, int]] = {}  # host_buffer address -> (pointer, nbytes)
        self._next = 0

    def _activate_impl(self) -> None:
        extra = LIBRARIES[self.library]
        trt = import_optional(
            self.library, extra=extra, purpose=f"the tensorrt backend ({self.library} engine)"
        )
        cuda_memory.cuda_runtime(extra=extra, purpose="the tensorrt backend")
        cuda_memory.require_device(self.device_id)
        cuda_memory.use_device(self.device_id)
        check_engine(
            self.sidecar,
            engine=self.engine_path,
            library=self.library,
            version=trt.__version__,
            capability=cuda_memory.compute_capability(self.device_id),
            onnx_sha256=self.onnx_sha256,
            max_batch=self.max_batch,
            rebuild=self.rebuild,
        )
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self._engine is None:
            raise StaleArtifactError(
                f"{self.engine_path}: {self.library} cannot deserialize this engine; {self.rebuild}"
            )
        check_io(
            self._engine,
            trt,
            path=self.engine_path,
            input_shape=self.input_shape,
            max_batch=self.max_batch,
            rebuild=self.rebuild,
        )
        shapes: dict[str, tuple[int, ...]] | None = None
        try:
            for _ in range(self.num_streams):
                context = self._engine.create_execution_context()
                shapes = shapes or output_shapes(
                    context, path=self.engine_path, input_shape=self.input_shape, batch=self.max_batch
                )
                slot = _Slot(
                    context=context,
                    stream=cuda_memory.Stream(self.device_id),
                    staging=cuda_memory.HostDeviceMem(
                        (self.max_batch, *self.input_shape), self.input_dtype, device=self.device_id
                    ),
                    outputs={
                        k: cuda_memory.HostDeviceMem(s, np.float32, device=self.device_id)
                        for k, s in shapes.items()
                    },
                )
                self._slots.append(slot)
                bind(context, slot.addresses(), path=self.engine_path)
        except MicrocalcError:
            self._deactivate_impl()
            raise

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        ptr, array = cuda_memory.alloc_pinned(
            (batch_size, *self.input_shape), self.input_dtype, device=self.device_id
        )
        self._pinned[array.ctypes.data] = (ptr, array.nbytes)
        return array

    def _is_pinned(self, batch: np.ndarray) -> bool:
        address = batch.ctypes.data
        return any(
            start <= address and address + batch.nbytes <= start + size
            for start, (_, size) in self._pinned.items()
        )

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        cuda_memory.use_device(self.device_id)  # the scanner submits from its own worker thread
        slot = self._slots[self._next]
        self._next = (self._next + 1) % self.num_streams
        if slot.pending is not None:
            slot.pending.result()  # this slot's previous batch must leave its buffers first
        nbytes = n * int(np.prod(self.input_shape)) * self.input_dtype.itemsize
        if self._is_pinned(batch):
            src = batch.ctypes.data
        else:
            np.copyto(slot.staging.host[:n], batch[:n])
            src = slot.staging.host_ptr
        slot.stream.record("start")
        slot.staging.to_device(slot.stream, nbytes, src_ptr=src)
        slot.stream.record("h2d")
        self._execute(slot, n)
        slot.stream.record("compute")
        for mem in slot.outputs.values():
            mem.to_host(slot.stream, n * (mem.nbytes // self.max_batch))
        slot.stream.record("d2h")

        def wait() -> BatchResult:
            times = slot.stream.stage_times()
            slot.pending = None
            return BatchResult(
                p_cluster=slot.outputs[OUTPUTS[0]].host[:n].copy(),
                cam=slot.outputs[OUTPUTS[1]].host[:n].copy(),
                timings_ms=times,
            )

        slot.pending = PendingBatch(wait)
        return slot.pending

    def _execute(self, slot: _Slot, n: int) -> None:
        """Queue the engine on the slot's stream: this batch size's graph when it has one, else enqueue."""
        graph = self._graph(slot, n) if self.cuda_graph else None
        if graph is not None:
            rt = cuda_memory.cuda_runtime()
            cuda_memory.check_cuda(
                rt.cudaGraphLaunch(graph.executable, slot.stream.handle), "cudaGraphLaunch"
            )
            return
        if not slot.context.set_input_shape(INPUT, (n, *self.input_shape)):
            raise MicrocalcError(f"{self.engine_path}: the engine refuses a batch of {n} tiles")
        if not slot.context.execute_async_v3(int(slot.stream.handle)):
            raise MicrocalcError(f"{self.engine_path}: execute_async_v3 failed for a batch of {n} tiles")

    def _graph(self, slot: _Slot, n: int) -> CapturedGraph | None:
        """The slot's graph for batch size ``n``, captured on first use on a context of its own."""
        if n in slot.graphs:
            return slot.graphs[n]
        slot.graphs[n] = None  # a failed capture is not retried
        if n in self.graph_failures:
            return None
        context = self._engine.create_execution_context()
        try:
            output_shapes(context, path=self.engine_path, input_shape=self.input_shape, batch=n)
            bind(context, slot.addresses(), path=self.engine_path)
            slot.graphs[n] = CapturedGraph(context, capture(context, slot.stream))
        except MicrocalcError as exc:
            self.graph_failures[n] = str(exc)
            log.warning(
                "%s: no CUDA graph for batches of %d, plain enqueue instead (%s)", self.engine_path, n, exc
            )
        return slot.graphs[n]

    def _deactivate_impl(self) -> None:
        cuda_memory.use_device(self.device_id)
        rt = cuda_memory.cuda_runtime()
        for slot in self._slots:
            if slot.pending is not None:
                slot.pending.result()
            for graph in slot.graphs.values():
                if graph is not None:
                    cuda_memory.check_cuda(rt.cudaGraphExecDestroy(graph.executable), "cudaGraphExecDestroy")
            for mem in (slot.staging, *slot.outputs.values()):
                mem.free()
            slot.stream.free()
        for ptr, _ in self._pinned.values():
            cuda_memory.free_pinned(ptr, device=self.device_id)
        self._slots, self._pinned, self._engine, self._next = [], {}, None, 0


def _from_bundle(bundle: Any, *, precision: str, device: str, max_batch: int, **options: Any) -> Backend:
    """The bundle's ``precision`` engine with what checks it (sidecar, ONNX SHA-256, rebuild hint)."""
    files = engine_files(bundle, bundle.variant(precision=precision, fmt="tensorrt"))
    return TensorRTBackend(
        files.engine,
        sidecar=files.sidecar,
        onnx_sha256=files.onnx_sha256,
        rebuild=files.rebuild,
        input_shape=registry.tile_shape(bundle),
        max_batch=max_batch,
        **options,
    )


registry.register(
    registry.BackendSpec(
        name=TensorRTBackend.name,
        devices=("cuda",),
        precisions=PRECISIONS,
        from_bundle=_from_bundle,
        status=functools.partial(availability.tensorrt_status, tuple(LIBRARIES)),
    )
)
