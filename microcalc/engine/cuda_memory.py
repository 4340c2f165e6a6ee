"""Pinned host memory paired with device memory, streams and events (cuda-python, imported lazily).

As TensorRT's ``samples/python/common_runtime.py``, every CUDA runtime call goes through one
checker, :func:`check_cuda`. Unlike that sample nothing here synchronises after a call: copies
and kernels are queued on a stream and completion is observed through events, so the copies of
one batch overlap the compute of another queued on a second stream.

This module imports without a GPU and without cuda-python; :func:`cuda_runtime` imports
``cuda.bindings.runtime`` on first use and raises
:class:`~microcalc.errors.MissingDependencyError` naming the extra when it is absent.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

from microcalc.errors import MicrocalcError, MissingDependencyError


class CudaError(MicrocalcError):
    """A CUDA runtime call failed; the message names the call and CUDA's error name."""


def cuda_runtime(*, extra: str = "cuda", purpose: str = "GPU inference") -> ModuleType:
    """``cuda.bindings.runtime``, imported on first use."""
    try:
        return importlib.import_module("cuda.bindings.runtime")
    except ImportError as exc:
        raise MissingDependencyError("cuda.bindings", extra, purpose) from exc


def check_cuda(result: Any, what: str) -> Any:
    """Raise :class:`CudaError` unless a cuda-python call succeeded; return its value(s).

    cuda-python returns ``(err,)`` or ``(err, value, ...)``; this returns ``None``, ``value``
    or the tuple of values.
    """
    rt = cuda_runtime()
    err, *values = result if isinstance(result, tuple) else (result,)
    if err != rt.cudaError_t.cudaSuccess:
        _, name = rt.cudaGetErrorName(err)
        name = name.decode() if isinstance(name, bytes) else str(name)
        raise CudaError(f"CUDA call {what} failed: {name}")
    if not values:
        return None
    return values[0] if len(values) == 1 else tuple(values)


def device_count() -> int:
    """Number of usable CUDA devices; 0 without cuda-python, a driver or a GPU (never raises)."""
    try:
        rt = cuda_runtime()
    except MissingDependencyError:
        return 0
    err, count = rt.cudaGetDeviceCount()
    return int(count) if err == rt.cudaError_t.cudaSuccess else 0


def require_device(device: int = 0) -> None:
    """Raise a one-line error unless CUDA device ``device`` exists."""
    count = device_count()
    if count <= device:
        raise MicrocalcError(f"no CUDA device {device} is available (found {count}): "
                             "use a CPU backend (onnxruntime or openvino)")


def compute_capability(device: int = 0) -> str:
    """``"major.minor"`` of a CUDA device, e.g. ``"9.0"`` for an H100."""
    rt = cuda_runtime()
    major = check_cuda(rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, device),
                       "cudaDeviceGetAttribute(major)")
    minor = check_cuda(rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, device),
                       "cudaDeviceGetAttribute(minor)")
    return f"{major}.{minor}"


class Stream:
    """A non-blocking CUDA stream and a pair of events that time the work queued between them."""

    def __init__(self) -> None:
        rt = cuda_runtime()
        self.handle = check_cuda(rt.cudaStreamCreateWithFlags(rt.cudaStreamNonBlocking), "cudaStreamCreateWithFlags")
        self.start = check_cuda(rt.cudaEventCreate(), "cudaEventCreate")
        self.done = check_cuda(rt.cudaEventCreate(), "cudaEventCreate")

    def record_start(self) -> None:
        check_cuda(cuda_runtime().cudaEventRecord(self.start, self.handle), "cudaEventRecord")

    def record_done(self) -> None:
        check_cuda(cuda_runtime().cudaEventRecord(self.done, self.handle), "cudaEventRecord")

    def wait_done(self) -> float:
        """Block until the ``done`` event; return the milliseconds since ``start``."""
        rt = cuda_runtime()
        check_cuda(rt.cudaEventSynchronize(self.done), "cudaEventSynchronize")
        return float(check_cuda(rt.cudaEventElapsedTime(self.start, self.done), "cudaEventElapsedTime"))

    def free(self) -> None:
        rt = cuda_runtime()
        check_cuda(rt.cudaEventDestroy(self.start), "cudaEventDestroy")
        check_cuda(rt.cudaEventDestroy(self.done), "cudaEventDestroy")
        check_cuda(rt.cudaStreamDestroy(self.handle), "cudaStreamDestroy")


class HostDeviceMem:
    """One tensor's page-locked host array and its device twin, of the same byte size.

    ``host`` is a C-contiguous numpy view of the pinned memory, so filling it costs no extra
    copy and ``to_device``/``to_host`` are truly asynchronous.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        rt = cuda_runtime()
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.host_ptr = check_cuda(rt.cudaMallocHost(self.nbytes), "cudaMallocHost")
        self.device_ptr = check_cuda(rt.cudaMalloc(self.nbytes), "cudaMalloc")
        self.host = pinned_array(self.host_ptr, self.shape, self.dtype)

    def to_device(self, stream: Stream, nbytes: int | None = None, *, src_ptr: int | None = None) -> None:
        """Queue a host -> device copy of the first ``nbytes`` (from ``src_ptr``, default ``host``)."""
        rt = cuda_runtime()
        check_cuda(rt.cudaMemcpyAsync(self.device_ptr, self.host_ptr if src_ptr is None else src_ptr,
                                      self.nbytes if nbytes is None else nbytes,
                                      rt.cudaMemcpyKind.cudaMemcpyHostToDevice, stream.handle), "cudaMemcpyAsync(H2D)")

    def to_host(self, stream: Stream, nbytes: int | None = None) -> None:
        """Queue a device -> host copy of the first ``nbytes`` into ``host``."""
        rt = cuda_runtime()
        check_cuda(rt.cudaMemcpyAsync(self.host_ptr, self.device_ptr, self.nbytes if nbytes is None else nbytes,
                                      rt.cudaMemcpyKind.cudaMemcpyDeviceToHost, stream.handle), "cudaMemcpyAsync(D2H)")

    def free(self) -> None:
        rt = cuda_runtime()
        check_cuda(rt.cudaFree(self.device_ptr), "cudaFree")
        check_cuda(rt.cudaFreeHost(self.host_ptr), "cudaFreeHost")


def pinned_array(ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A C-contiguous numpy view of ``prod(shape)`` elements of host memory at ``ptr``."""
    import ctypes

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = (ctypes.c_byte * nbytes).from_address(int(ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def alloc_pinned(shape: tuple[int, ...], dtype: np.dtype) -> tuple[int, np.ndarray]:
    """Page-locked host memory as ``(pointer, array)``; free with :func:`free_pinned`."""
    rt = cuda_runtime()
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    ptr = check_cuda(rt.cudaMallocHost(nbytes), "cudaMallocHost")
    return ptr, pinned_array(ptr, shape, dtype)


def free_pinned(ptr: int) -> None:
    check_cuda(cuda_runtime().cudaFreeHost(ptr), "cudaFreeHost")
