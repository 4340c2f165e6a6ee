"""A bounded ring of reusable batch buffers: the only tile memory the scan ever allocates.

The buffers come from ``backend.host_buffer(b)``, so they are pinned host memory on CUDA
backends and plain C-contiguous arrays elsewhere. ``acquire`` blocks while every buffer is being
filled or computed on, which is the backpressure that keeps the tiler from running ahead of the
backend; ``release`` hands a buffer back once its results are on the host.
"""

from __future__ import annotations

import queue

import numpy as np

from microcalc.engine.backends.base import Backend


class BufferRing:
    """``depth`` batch buffers of ``batch_size`` tiles each, handed out round-robin.

    Args:
        backend: an active backend; it allocates the buffers.
        batch_size: tiles per buffer (at most ``backend.max_batch``).
        depth: number of buffers; 3 lets one be filled while two are in flight.
    """

    def __init__(self, backend: Backend, *, batch_size: int, depth: int = 3) -> None:
        if depth < 2:
            raise ValueError(f"depth must be at least 2 so that filling overlaps compute, got {depth}")
        self.buffers: tuple[np.ndarray, ...] = tuple(backend.host_buffer(batch_size) for _ in range(depth))
        for buf in self.buffers:
            if not buf.flags.c_contiguous:
                raise ValueError(f"{backend.name} returned a batch buffer that is not C-contiguous")
        self._free: queue.Queue[int] = queue.Queue()
        for index in range(depth):
            self._free.put(index)

    @property
    def batch_size(self) -> int:
        return int(self.buffers[0].shape[0])

    def acquire(self, timeout: float | None = None) -> int:
        """Index of a free buffer, blocking until one is released."""
        return self._free.get(timeout=timeout)

    def release(self, index: int) -> None:
        """Give buffer ``index`` back once its results have been read."""
        self._free.put(index)
