"""TensorRT backend: native engines from the bundle, through ``tensorrt`` or ``tensorrt_rtx``.

Both libraries share the runtime API, so one code path serves them; the engine's sidecar says
which one built it. Before deserialising, :func:`~microcalc.engine.backends.engine_check.check_engine`
refuses an engine built by another library or version, for another GPU architecture, from
another ONNX model, or for smaller batches, with the ``mc-export`` command that rebuilds it.

Execution (cuda-python, :mod:`microcalc.engine.cuda_memory`): ``num_streams`` (>= 2) slots,
each with its own execution context, stream, events, device input and pinned output buffers.
A batch is queued on the next slot as H2D copy -> ``execute_async_v3`` -> D2H copies -> event,
with no synchronisation in between, so the copies of one batch overlap the compute of the
other. ``result()`` waits on that slot's event only. ``host_buffer`` returns pinned memory; a
batch in ordinary memory is first copied into the slot's pinned staging buffer. With
``cuda_graph=True`` full batches replay a CUDA graph captured once per slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends.base import Backend, BatchResult, PendingBatch, import_optional
from microcalc.engine.backends.engine_check import check_engine
from microcalc.errors import MicrocalcError, StaleArtifactError

LIBRARIES = {"tensorrt": "tensorrt", "tensorrt_rtx": "rtx"}  # library -> pip extra
INPUT, OUTPUTS = "tiles", ("p_cluster", "cam")


@dataclass
class _Slot:
    """What one stream owns: nothing here is shared with the other slot."""

    context: Any
    stream: Any
    staging: Any            # HostDeviceMem: pinned staging + device input
    outputs: dict[str, Any]  # name -> HostDeviceMem
    pending: PendingBatch | None = None
    graph: Any = None


class TensorRTBackend(Backend):
    """Runs a TensorRT / TensorRT-RTX engine of a bundle on one GPU.

    Args:
        engine_path: the serialized engine.
        sidecar: its JSON sidecar (library, version, compute capabilities, profile, ONNX SHA-256).
        onnx_sha256: SHA-256 of the bundle's ONNX model of the same precision.
        rebuild: the hint that ends every stale-engine message.
        input_shape, max_batch: as :class:`Backend`.
        num_streams: slots in flight (at least 2 so that copies overlap compute).
        cuda_graph: replay full batches from a captured CUDA graph.
        device_id: the CUDA device.
    """

    name = "tensorrt"
    module = "tensorrt_rtx"
    extra = "rtx"

    def __init__(self, engine_path: str | Path, *, sidecar: dict[str, Any], onnx_sha256: str | None, rebuild: str,
                 input_shape: tuple[int, int, int], max_batch: int, num_streams: int = 2, cuda_graph: bool = False,
                 device_id: int = 0) -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        if num_streams < 2:
            raise ValueError(f"num_streams must be at least 2 (copies overlap compute), got {num_streams}")
        self.engine_path = Path(engine_path)
        self.sidecar = dict(sidecar)
        self.library = str(self.sidecar.get("library") or "tensorrt_rtx")
        if self.library not in LIBRARIES:
            raise StaleArtifactError(f"{self.engine_path}: unknown TensorRT library {self.library!r} in its "
                                     f"sidecar; {rebuild}")
        self.onnx_sha256, self.rebuild = onnx_sha256, rebuild
        self.num_streams, self.cuda_graph, self.device_id = num_streams, cuda_graph, device_id
        self._engine: Any = None
        self._slots: list[_Slot] = []
        self._pinned: dict[int, tuple[int, int]] = {}  # host_buffer address -> (pointer, nbytes)
        self._next = 0

    def _activate_impl(self) -> None:
        extra = LIBRARIES[self.library]
        trt = import_optional(self.library, extra=extra, purpose=f"the tensorrt backend ({self.library} engine)")
        from microcalc.engine import cuda_memory

        rt = cuda_memory.cuda_runtime(extra=extra, purpose="the tensorrt backend")
        cuda_memory.require_device(self.device_id)
        cuda_memory.check_cuda(rt.cudaSetDevice(self.device_id), "cudaSetDevice")
        check_engine(self.sidecar, engine=self.engine_path, library=self.library, version=trt.__version__,
                     capability=cuda_memory.compute_capability(self.device_id), onnx_sha256=self.onnx_sha256,
                     max_batch=self.max_batch, rebuild=self.rebuild)
        self._logger = trt.Logger(trt.Logger.WARNING)
        self._runtime = trt.Runtime(self._logger)
        self._engine = self._runtime.deserialize_cuda_engine(self.engine_path.read_bytes())
        if self._engine is None:
            raise StaleArtifactError(f"{self.engine_path}: {self.library} cannot deserialize this engine; "
                                     f"{self.rebuild}")
        cam_hw = tuple(self._engine.get_tensor_shape(OUTPUTS[1]))[1:]
        shapes = {OUTPUTS[0]: (self.max_batch,), OUTPUTS[1]: (self.max_batch, *cam_hw)}
        for _ in range(self.num_streams):
            slot = _Slot(context=self._engine.create_execution_context(), stream=cuda_memory.Stream(),
                         staging=cuda_memory.HostDeviceMem((self.max_batch, *self.input_shape), self.input_dtype),
                         outputs={k: cuda_memory.HostDeviceMem(s, np.float32) for k, s in shapes.items()})
            slot.context.set_tensor_address(INPUT, int(slot.staging.device_ptr))
            for name, mem in slot.outputs.items():
                slot.context.set_tensor_address(name, int(mem.device_ptr))
            self._slots.append(slot)

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        from microcalc.engine import cuda_memory

        ptr, array = cuda_memory.alloc_pinned((batch_size, *self.input_shape), self.input_dtype)
        self._pinned[array.ctypes.data] = (ptr, array.nbytes)
        return array

    def _is_pinned(self, batch: np.ndarray) -> bool:
        address = batch.ctypes.data
        return any(start <= address and address + batch.nbytes <= start + size
                   for start, (_, size) in self._pinned.items())

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
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
        slot.stream.record_start()
        slot.staging.to_device(slot.stream, nbytes, src_ptr=src)
        self._execute(slot, n)
        for mem in slot.outputs.values():
            mem.to_host(slot.stream, n * (mem.nbytes // self.max_batch))
        slot.stream.record_done()

        def wait() -> BatchResult:
            gpu_ms = slot.stream.wait_done()
            slot.pending = None
            return BatchResult(p_cluster=slot.outputs[OUTPUTS[0]].host[:n].copy(),
                               cam=slot.outputs[OUTPUTS[1]].host[:n].copy(), timings_ms={"gpu": gpu_ms})

        slot.pending = PendingBatch(wait)
        return slot.pending

    def _execute(self, slot: _Slot, n: int) -> None:
        """Queue the engine on the slot's stream: a replayed graph for full batches when enabled."""
        from microcalc.engine import cuda_memory

        rt = cuda_memory.cuda_runtime()
        if not slot.context.set_input_shape(INPUT, (n, *self.input_shape)):
            raise MicrocalcError(f"{self.engine_path}: the engine refuses a batch of {n} tiles")
        stream = int(slot.stream.handle)
        if self.cuda_graph and n == self.max_batch:
            if slot.graph is None:
                slot.graph = self._capture(slot, rt)
            cuda_memory.check_cuda(rt.cudaGraphLaunch(slot.graph, slot.stream.handle), "cudaGraphLaunch")
        elif not slot.context.execute_async_v3(stream):
            raise MicrocalcError(f"{self.engine_path}: execute_async_v3 failed")

    def _capture(self, slot: _Slot, rt: Any) -> Any:
        """Capture one full-batch launch (after a warm-up launch that lets TensorRT set up its shapes)."""
        from microcalc.engine import cuda_memory

        stream = int(slot.stream.handle)
        slot.context.execute_async_v3(stream)
        cuda_memory.check_cuda(rt.cudaStreamBeginCapture(
            slot.stream.handle, rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture")
        slot.context.execute_async_v3(stream)
        graph = cuda_memory.check_cuda(rt.cudaStreamEndCapture(slot.stream.handle), "cudaStreamEndCapture")
        executable = cuda_memory.check_cuda(rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
        cuda_memory.check_cuda(rt.cudaGraphDestroy(graph), "cudaGraphDestroy")
        return executable

    def _deactivate_impl(self) -> None:
        from microcalc.engine import cuda_memory

        rt = cuda_memory.cuda_runtime()
        for slot in self._slots:
            if slot.pending is not None:
                slot.pending.result()
            if slot.graph is not None:
                cuda_memory.check_cuda(rt.cudaGraphExecDestroy(slot.graph), "cudaGraphExecDestroy")
            for mem in (slot.staging, *slot.outputs.values()):
                mem.free()
            slot.stream.free()
        for ptr, _ in self._pinned.values():
            cuda_memory.free_pinned(ptr)
        self._slots, self._pinned, self._engine, self._next = [], {}, None, 0
