"""CUDA graph capture of one TensorRT execution context (cuda-python runtime).

A graph replays the launches TensorRT made for the shape it was captured at, so each graph gets an
execution context of its own that never runs another shape (:class:`CapturedGraph`). Capture can
fail in several ways (TensorRT refuses the stream, ``execute_async_v3`` returns False,
instantiation fails); :func:`capture` raises a one-line :class:`~microcalc.errors.MicrocalcError`
for each and always leaves the stream out of capture mode, so the caller can fall back to a plain
enqueue on the same stream.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from microcalc.engine import cuda_memory
from microcalc.errors import MicrocalcError


@dataclass
class CapturedGraph:
    """A graph captured for one batch size, and the context that never runs another size."""

    context: Any
    executable: Any


def capture(context: Any, stream: Any) -> Any:
    """Capture one launch of ``context`` after an uncaptured warm-up launch (TensorRT sets up there)."""
    rt = cuda_memory.cuda_runtime()
    handle = int(stream.handle)
    capturable = getattr(context, "is_stream_capturable", None)
    if capturable is not None and not capturable(handle):
        raise MicrocalcError("TensorRT reports the stream as not capturable")
    if not context.execute_async_v3(handle):
        raise MicrocalcError("execute_async_v3 failed before capture")
    cuda_memory.check_cuda(
        rt.cudaStreamBeginCapture(stream.handle, rt.cudaStreamCaptureMode.cudaStreamCaptureModeThreadLocal),
        "cudaStreamBeginCapture",
    )
    enqueued = False
    try:
        enqueued = context.execute_async_v3(handle)
    finally:
        ended = rt.cudaStreamEndCapture(
            stream.handle
        )  # always leave capture mode, so the stream stays usable
    if not enqueued:
        if ended[0] == rt.cudaError_t.cudaSuccess and ended[1]:
            cuda_memory.check_cuda(rt.cudaGraphDestroy(ended[1]), "cudaGraphDestroy")
        raise MicrocalcError("execute_async_v3 failed during capture")
    graph = cuda_memory.check_cuda(ended, "cudaStreamEndCapture")
    try:
        return cuda_memory.check_cuda(rt.cudaGraphInstantiate(graph, 0), "cudaGraphInstantiate")
    finally:
        cuda_memory.check_cuda(rt.cudaGraphDestroy(graph), "cudaGraphDestroy")
