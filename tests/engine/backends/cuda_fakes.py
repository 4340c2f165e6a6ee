"""A CPU stand-in for ``cuda.bindings.runtime`` and for a TensorRT engine, to test the CUDA plumbing.

``FakeRuntime`` keeps cuda-python's calling convention (``(err, value)`` tuples, enum members)
and checks what a real driver would: every stream, event and graph call must come from a thread
whose current device (``cudaSetDevice``) is the one the object was made on, and memory must have
been allocated. "Device" memory is host memory, copies happen at once, and a stream in capture
mode records kernel launches instead of running them, as CUDA does; ``cudaGraphLaunch`` runs
them. ``fake_tensorrt`` is a module whose engine (described by JSON in the engine file) scores a
batch as the mean of each tile, so results can be compared with exact expectations.
"""

from __future__ import annotations

import ctypes
import enum
import itertools
import json
import threading
import types
from typing import Any

import numpy as np


class cudaError_t(enum.IntEnum):
    cudaSuccess = 0
    cudaErrorInvalidValue = 1
    cudaErrorInvalidDevice = 101
    cudaErrorInvalidResourceHandle = 400
    cudaErrorStreamCaptureInvalidated = 901


class FakeRuntime(types.SimpleNamespace):
    """The subset of ``cuda.bindings.runtime`` that :mod:`microcalc.engine.cuda_memory` and the backends
    use."""

    cudaError_t = cudaError_t
    cudaStreamNonBlocking = 1
    cudaMemcpyKind = types.SimpleNamespace(cudaMemcpyHostToDevice=1, cudaMemcpyDeviceToHost=2)
    cudaStreamCaptureMode = types.SimpleNamespace(
        cudaStreamCaptureModeGlobal=0, cudaStreamCaptureModeThreadLocal=1
    )
    cudaDeviceAttr = types.SimpleNamespace(
        cudaDevAttrComputeCapabilityMajor=75, cudaDevAttrComputeCapabilityMinor=76
    )

    def __init__(self, *, devices: int = 2, capability: tuple[int, int] = (8, 9)) -> None:
        super().__init__()
        self.devices, self.capability = devices, capability
        self._current = threading.local()
        self._ids = itertools.count(1)
        self.memory: dict[int, Any] = {}  # pointer -> ctypes buffer kept alive
        self.owner: dict[int, int] = {}  # stream / event / graph handle -> device
        self.capturing: dict[int, list] = {}  # stream -> launches recorded since BeginCapture
        self.graphs: dict[int, list] = {}  # graph or graph exec -> launches
        self.set_device_calls: list[tuple[str, int]] = []
        self.launches = 0

    # ---- errors and devices ----------------------------------------------------------------
    def cudaGetErrorName(self, err):
        return cudaError_t.cudaSuccess, cudaError_t(err).name.encode()

    def cudaGetDeviceCount(self):
        return cudaError_t.cudaSuccess, self.devices

    def cudaSetDevice(self, device):
        if not 0 <= device < self.devices:
            return (cudaError_t.cudaErrorInvalidDevice,)
        self._current.device = device
        self.set_device_calls.append((threading.current_thread().name, device))
        return (cudaError_t.cudaSuccess,)

    def current(self) -> int:
        return getattr(self._current, "device", 0)

    def cudaDeviceGetAttribute(self, attr, device):
        major, minor = self.capability
        return cudaError_t.cudaSuccess, major if attr == 75 else minor

    def _new(self) -> int:
        handle = next(self._ids)
        self.owner[handle] = self.current()
        return handle

    def _mine(self, handle) -> bool:
        """Whether ``handle`` exists and belongs to the calling thread's current device."""
        return self.owner.get(int(handle)) == self.current()

    # ---- streams, events, memory ------------------------------------------------------------
    def cudaStreamCreateWithFlags(self, flags):
        return cudaError_t.cudaSuccess, self._new()

    def cudaEventCreate(self):
        return cudaError_t.cudaSuccess, self._new()

    def cudaEventRecord(self, event, stream):
        ok = self._mine(event) and self._mine(stream)
        return (cudaError_t.cudaSuccess if ok else cudaError_t.cudaErrorInvalidResourceHandle,)

    def cudaEventSynchronize(self, event):
        return (cudaError_t.cudaSuccess if self._mine(event) else cudaError_t.cudaErrorInvalidResourceHandle,)

    def cudaEventElapsedTime(self, start, end):
        if not (self._mine(start) and self._mine(end)):
            return cudaError_t.cudaErrorInvalidResourceHandle, 0.0
        return cudaError_t.cudaSuccess, 0.25  # every stage "takes" 0.25 ms

    def _destroy(self, handle):
        return (
            cudaError_t.cudaSuccess
            if self.owner.pop(int(handle), None) is not None
            else cudaError_t.cudaErrorInvalidResourceHandle,
        )

    cudaEventDestroy = cudaStreamDestroy = _destroy

    def _alloc(self, nbytes):
        buf = (ctypes.c_byte * max(1, int(nbytes)))()
        ptr = ctypes.addressof(buf)
        self.memory[ptr] = buf
        return cudaError_t.cudaSuccess, ptr

    cudaMallocHost = cudaMalloc = _alloc

    def _free(self, ptr):
        return (
            cudaError_t.cudaSuccess
            if self.memory.pop(int(ptr), None) is not None
            else cudaError_t.cudaErrorInvalidValue,
        )

    cudaFree = cudaFreeHost = _free

    def cudaMemcpyAsync(self, dst, src, nbytes, kind, stream):
        if not self._mine(stream):
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        self.launch(stream, lambda: ctypes.memmove(int(dst), int(src), int(nbytes)))
        return (cudaError_t.cudaSuccess,)

    def launch(self, stream, work) -> None:
        """Run ``work`` now, or record it when ``stream`` is being captured."""
        if int(stream) in self.capturing:
            self.capturing[int(stream)].append(work)
        else:
            self.launches += 1
            work()

    # ---- graphs -------------------------------------------------------------------------------
    def cudaStreamBeginCapture(self, stream, mode):
        if not self._mine(stream) or int(stream) in self.capturing:
            return (cudaError_t.cudaErrorInvalidValue,)
        self.capturing[int(stream)] = []
        return (cudaError_t.cudaSuccess,)

    def cudaStreamEndCapture(self, stream):
        if int(stream) not in self.capturing:
            return cudaError_t.cudaErrorInvalidValue, None
        graph = self._new()
        self.graphs[graph] = self.capturing.pop(int(stream))
        return cudaError_t.cudaSuccess, graph

    def cudaGraphInstantiate(self, graph, flags):
        executable = self._new()
        self.graphs[executable] = list(self.graphs[graph])
        return cudaError_t.cudaSuccess, executable

    def cudaGraphLaunch(self, executable, stream):
        if not (self._mine(executable) and self._mine(stream)):
            return (cudaError_t.cudaErrorInvalidResourceHandle,)
        for work in self.graphs[executable]:
            self.launch(stream, work)
        return (cudaError_t.cudaSuccess,)

    def cudaGraphDestroy(self, graph):
        self.graphs.pop(int(graph), None)
        return self._destroy(graph)

    cudaGraphExecDestroy = cudaGraphDestroy


# ---- TensorRT ------------------------------------------------------------------------------------
def engine_bytes(*, patch: int, max_batch: int, cam: int = 4, **faults: Any) -> bytes:
    """A fake engine file: tensors, profile and faults (``capture_fails``, ``refuse_address``,
    ``names``, ``input_dtype``) as JSON."""
    return json.dumps({"patch": patch, "max_batch": max_batch, "cam": cam, **faults}).encode()


def expected_scores(tiles: np.ndarray, cam: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """What the fake engine computes: p = mean / 255 per tile; cam = p broadcast to ``cam x cam``."""
    p = tiles.reshape(len(tiles), -1).mean(axis=1).astype(np.float32) / 255
    return p, np.repeat(p[:, None, None], cam * cam, axis=1).reshape(len(tiles), cam, cam)


def fake_tensorrt(rt: FakeRuntime, *, version: str = "1.7.1.116") -> types.ModuleType:
    """A ``tensorrt_rtx``-like module whose engines run on ``rt``."""
    trt = types.ModuleType("tensorrt_rtx")
    trt.__version__ = version
    trt.DataType = enum.Enum("DataType", "FLOAT HALF INT8 INT32 BOOL UINT8")
    trt.TensorIOMode = enum.Enum("TensorIOMode", "NONE INPUT OUTPUT")

    class Logger:
        WARNING = 2

        def __init__(self, level):
            self.level = level

    class Context:
        def __init__(self, engine):
            self.engine, self.shape, self.addresses = engine, None, {}

        def set_input_shape(self, name, shape):
            ok = name == "tiles" and 1 <= shape[0] <= self.engine.spec["max_batch"]
            self.shape = tuple(shape) if ok else self.shape
            return ok

        def get_tensor_shape(self, name):
            n, cam = self.shape[0] if self.shape else -1, self.engine.spec["cam"]
            return {"tiles": self.shape, "p_cluster": (n,), "cam": (n, cam, cam)}[name]

        def set_tensor_address(self, name, ptr):
            if self.engine.spec.get("refuse_address") == name or name not in self.engine.names:
                return False
            self.addresses[name] = int(ptr)
            return True

        def execute_async_v3(self, stream):
            if int(stream) in rt.capturing and self.engine.spec.get("capture_fails"):
                return False
            n, cam, patch = self.shape[0], self.engine.spec["cam"], self.engine.spec["patch"]
            src, p_ptr, cam_ptr = (self.addresses[k] for k in ("tiles", "p_cluster", "cam"))

            def work():
                tiles = np.ctypeslib.as_array((ctypes.c_uint8 * (n * patch * patch)).from_address(src))
                p, maps = expected_scores(tiles.reshape(n, 1, patch, patch), cam)
                ctypes.memmove(p_ptr, p.ctypes.data, p.nbytes)
                ctypes.memmove(cam_ptr, maps.ctypes.data, maps.nbytes)

            rt.launch(stream, work)
            return True

    class Engine:
        def __init__(self, spec):
            self.spec = spec
            self.names = spec.get("names", ["tiles", "p_cluster", "cam"])
            self.num_io_tensors, self.num_optimization_profiles = len(self.names), 1

        def get_tensor_name(self, i):
            return self.names[i]

        def get_tensor_mode(self, name):
            return trt.TensorIOMode.INPUT if name == "tiles" else trt.TensorIOMode.OUTPUT

        def get_tensor_dtype(self, name):
            return (
                trt.DataType[self.spec.get("input_dtype", "UINT8")] if name == "tiles" else trt.DataType.FLOAT
            )

        def get_tensor_shape(self, name):
            return (-1, 1, self.spec["patch"], self.spec["patch"]) if name == "tiles" else (-1,)

        def get_tensor_profile_shape(self, name, profile):
            p = self.spec["patch"]
            return [
                (1, 1, p, p),
                (max(1, self.spec["max_batch"] // 2), 1, p, p),
                (self.spec["max_batch"], 1, p, p),
            ]

        def create_execution_context(self):
            return Context(self)

    class Runtime:
        def __init__(self, logger):
            self.logger = logger

        def deserialize_cuda_engine(self, data):
            return Engine(json.loads(data))

    trt.Logger, trt.Runtime = Logger, Runtime
    return trt
