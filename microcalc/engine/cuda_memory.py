"""Pinned host memory paired with device memory, streams and events (cuda-python, imported lazily).

As TensorRT's ``samples/python/common_runtime.py``, every CUDA runtime call goes through one
checker, :func:`check_cuda`. Unlike that sample nothing here synchronises after a call: copies
and kernels are queued on a stream and completion is observed through events, so the copies of
one batch overlap the compute of another queued on a second stream.

The CUDA runtime's current device is per host thread, and the scanner calls a backend from
its worker threads, not only from the thread that activated it. So every object here remembers
its device and makes it current (:func:`use_device`, once per thread) before each call.

This module imports without a GPU and without cuda-python; :func:`cuda_runtime` imports
``cuda.bindings.runtime`` on first use and raises
:class:`~microcalc.errors.MissingDependencyError` naming the extra when it is absent.
"""

from __future__ import annotations

import importlib
import itertools
import threading
from types import ModuleType
from typing import Any

import numpy as np

from microcalc.errors import MicrocalcError, MissingDependencyError

# ``start``, then the backends' ``STAGES`` (microcalc/engine/backends/base.py). Written out, not
# imported: the backends import this module, and the import would close a circle;
# tests/test_layers.py checks that the two agree.
MARKS = ("start", "h2d", "compute", "d2h")

_thread = threading.local()


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


def use_device(device: int) -> None:
    """Make ``device`` the calling thread's current CUDA device (``cudaSetDevice`` once per thread).

    Call it before any CUDA call a thread makes: streams, events and memory belong to the device
    they were made on, and a thread that never set it would use device 0.
    """
    if getattr(_thread, "device", None) != device:
        check_cuda(cuda_runtime().cudaSetDevice(device), f"cudaSetDevice({device})")
        _thread.device = device


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
        raise MicrocalcError(
            f"no CUDA device {device} is available (found {count}): "
            "use a CPU backend (onnxruntime or openvino)"
        )


def compute_capability(device: int = 0) -> str:
    """``"major.minor"`` of a CUDA device, e.g. ``"9.0"`` for an H100."""
    rt = cuda_runtime()
    major = check_cuda(
        rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMajor, device),
        "cudaDeviceGetAttribute(major)",
    )
    minor = check_cuda(
        rt.cudaDeviceGetAttribute(rt.cudaDeviceAttr.cudaDevAttrComputeCapabilityMinor, device),
        "cudaDeviceGetAttribute(minor)",
    )
    return f"{major}.{minor}"


class Stream:
    """A non-blocking CUDA stream on ``device`` and named events that split the work queued on it.

    A batch records ``start``, then one mark after each stage (``h2d``, ``compute``, ``d2h``);
    :meth:`stage_times` waits for the last mark and returns the milliseconds between neighbours,
    keyed by the later mark, which is the ``BatchResult.timings_ms`` the report reads.
    """

    def __init__(self, device: int = 0, *, marks: tuple[str, ...] = MARKS) -> None:
        rt = cuda_runtime()
        use_device(device)
        self.device, self.marks = device, tuple(marks)
        self.handle = check_cuda(
            rt.cudaStreamCreateWithFlags(rt.cudaStreamNonBlocking), "cudaStreamCreateWithFlags"
        )
        self.events = {m: check_cuda(rt.cudaEventCreate(), "cudaEventCreate") for m in self.marks}

    def record(self, mark: str) -> None:
        """Record event ``mark`` after everything queued so far on this stream."""
        use_device(self.device)
        check_cuda(cuda_runtime().cudaEventRecord(self.events[mark], self.handle), f"cudaEventRecord({mark})")

    def stage_times(self) -> dict[str, float]:
        """Block until the last mark; ``{mark: ms since the previous mark}`` for every mark after the
        first."""
        rt = cuda_runtime()
        use_device(self.device)
        check_cuda(rt.cudaEventSynchronize(self.events[self.marks[-1]]), "cudaEventSynchronize")
        return {
            b: float(
                check_cuda(rt.cudaEventElapsedTime(self.events[a], self.events[b]), "cudaEventElapsedTime")
            )
            for a, b in itertools.pairwise(self.marks)
        }

    def free(self) -> None:
        rt = cuda_runtime()
        use_device(self.device)
        for event in self.events.values():
            check_cuda(rt.cudaEventDestroy(event), "cudaEventDestroy")
        check_cuda(rt.cudaStreamDestroy(self.handle), "cudaStreamDestroy")


class HostDeviceMem:
    """One tensor's page-locked host array and its device twin, of the same byte size.

    ``host`` is a C-contiguous numpy view of the pinned memory, so filling it costs no extra
    copy and ``to_device``/``to_host`` are truly asynchronous.
    """

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype, *, device: int = 0) -> None:
        rt = cuda_runtime()
        use_device(device)
        self.device = device
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        if any(int(d) < 1 for d in self.shape):
            raise ValueError(f"buffer shape must be concrete and positive, got {list(self.shape)}")
        self.nbytes = int(np.prod(self.shape)) * self.dtype.itemsize
        self.host_ptr = check_cuda(rt.cudaMallocHost(self.nbytes), "cudaMallocHost")
        self.device_ptr = check_cuda(rt.cudaMalloc(self.nbytes), "cudaMalloc")
        self.host = pinned_array(self.host_ptr, self.shape, self.dtype)

    def to_device(self, stream: Stream, nbytes: int | None = None, *, src_ptr: int | None = None) -> None:
        """Queue a host -> device copy of the first ``nbytes`` (from ``src_ptr``, default ``host``)."""
        rt = cuda_runtime()
        use_device(self.device)
        check_cuda(
            rt.cudaMemcpyAsync(
                self.device_ptr,
                self.host_ptr if src_ptr is None else src_ptr,
                self.nbytes if nbytes is None else nbytes,
                rt.cudaMemcpyKind.cudaMemcpyHostToDevice,
                stream.handle,
            ),
            "cudaMemcpyAsync(H2D)",
        )

    def to_host(self, stream: Stream, nbytes: int | None = None) -> None:
        """Queue a device -> host copy of the first ``nbytes`` into ``host``."""
        rt = cuda_runtime()
        use_device(self.device)
        check_cuda(
            rt.cudaMemcpyAsync(
                self.host_ptr,
                self.device_ptr,
                self.nbytes if nbytes is None else nbytes,
                rt.cudaMemcpyKind.cudaMemcpyDeviceToHost,
                stream.handle,
            ),
            "cudaMemcpyAsync(D2H)",
        )

    def free(self) -> None:
        rt = cuda_runtime()
        use_device(self.device)
        check_cuda(rt.cudaFree(self.device_ptr), "cudaFree")
        check_cuda(rt.cudaFreeHost(self.host_ptr), "cudaFreeHost")


def pinned_array(ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A C-contiguous numpy view of ``prod(shape)`` elements of host memory at ``ptr``."""
    import ctypes

    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = (ctypes.c_byte * nbytes).from_address(int(ptr))
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def alloc_pinned(shape: tuple[int, ...], dtype: np.dtype, *, device: int = 0) -> tuple[int, np.ndarray]:
    """Page-locked host memory as ``(pointer, array)``, from ``device``'s context; free with
    :func:`free_pinned`."""
    rt = cuda_runtime()
    use_device(device)
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    ptr = check_cuda(rt.cudaMallocHost(nbytes), "cudaMallocHost")
    return ptr, pinned_array(ptr, shape, dtype)


def free_pinned(ptr: int, *, device: int = 0) -> None:
    use_device(device)
    check_cuda(cuda_runtime().cudaFreeHost(ptr), "cudaFreeHost")
