"""One backend interface: activate / infer / deactivate, as Polygraphy's runners.

Backends differ only in their ``_*_impl`` hooks. Each imports its library lazily inside
``_activate_impl`` and raises :class:`~microcalc.errors.MissingDependencyError` naming the
``pip install "microcalc[extra]"`` to run when it is missing. The tiler and pipeline only see
this class: they ask the backend for host batch buffers (pinned on CUDA backends), fill them,
``submit`` them and collect :class:`BatchResult` in order.
"""

from __future__ import annotations

import abc
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from microcalc.errors import MicrocalcError

PRECISIONS = ("fp32", "fp16", "int8")
# The per-batch stage times every backend reports in BatchResult.timings_ms, under these keys
# (a CPU backend has no copies and reports only "compute"); mc-bench's tables read them.
STAGES = ("h2d", "compute", "d2h")


def check_precision(precision: str) -> str:
    """Validate a precision name in one place, quoting the bad value."""
    if precision not in PRECISIONS:
        raise MicrocalcError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    return precision


_UINT8 = np.dtype(np.uint8)  # the tiles the scanner cuts


@dataclass
class BatchResult:
    """Scores for the first ``n`` tiles of a batch buffer.

    Attributes:
        p_cluster: float32 ``[n]``, probability of the cluster class.
        cam: float32 ``[n, h, w]``, class activation map of the cluster class.
        timings_ms: what the backend measured for this batch, keyed by :data:`STAGES`.
    """

    p_cluster: np.ndarray
    cam: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


class PendingBatch:
    """A submitted batch; ``result()`` blocks until its scores are on the host."""

    def __init__(self, wait: Callable[[], BatchResult]) -> None:
        self._wait = wait
        self._result: BatchResult | None = None

    def result(self) -> BatchResult:
        if self._result is None:
            self._result = self._wait()
        return self._result


class Backend(abc.ABC):
    """Base class of every inference backend.

    Subclasses set ``name``, ``module`` (the library imported lazily) and ``extra`` (the pip
    extra that installs it) and implement the hooks. Use as a context manager::

        with OnnxRuntimeBackend(model_path, input_shape=(1, 674, 674), max_batch=8) as backend:
            buf = backend.host_buffer(8)
            buf[:n] = tiles
            result = backend.submit(buf, n).result()
    """

    name: ClassVar[str]
    module: ClassVar[str]
    extra: ClassVar[str]

    def __init__(
        self, *, input_shape: tuple[int, int, int], max_batch: int, input_dtype: np.dtype = _UINT8
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.input_shape = tuple(input_shape)
        self.input_dtype = np.dtype(input_dtype)
        self.max_batch = max_batch
        self.is_active = False
        self.infer_ms: deque[float] = deque(maxlen=10_000)

    # ---- public API -------------------------------------------------------------------------
    def activate(self) -> None:
        if self.is_active:
            raise MicrocalcError(f"{self.name} backend is already active")
        self._activate_impl()
        self.is_active = True

    def deactivate(self) -> None:
        if self.is_active:
            self._deactivate_impl()
            self.is_active = False

    def host_buffer(self, batch_size: int) -> np.ndarray:
        """A host batch buffer ``[batch_size, 1, P, P]`` of the input dtype, C-contiguous.

        CUDA backends return page-locked (pinned) memory so copies to the device are async.
        The buffer stays valid until ``deactivate``.
        """
        self._check_active()
        if not 1 <= batch_size <= self.max_batch:
            raise ValueError(f"batch_size must lie in [1, {self.max_batch}], got {batch_size}")
        return self._host_buffer_impl(batch_size)

    def submit(self, batch: np.ndarray, n: int) -> PendingBatch:
        """Start inference on ``batch[:n]``; the buffer must not be refilled before ``result()``."""
        self._check_active()
        if batch.dtype != self.input_dtype or tuple(batch.shape[1:]) != self.input_shape:
            raise ValueError(
                f"batch must be {self.input_dtype} [N, {', '.join(map(str, self.input_shape))}], "
                f"got {batch.dtype} {list(batch.shape)}"
            )
        if not batch.flags.c_contiguous:
            raise ValueError("batch must be C-contiguous: fill a buffer from host_buffer()")
        if not 1 <= n <= min(batch.shape[0], self.max_batch):
            raise ValueError(f"n must lie in [1, {min(batch.shape[0], self.max_batch)}], got {n}")
        start = time.perf_counter()
        pending = self._submit_impl(batch, n)

        def timed() -> BatchResult:
            result = pending.result()
            self.infer_ms.append((time.perf_counter() - start) * 1e3)
            return result

        return PendingBatch(timed)

    def infer(self, tiles: np.ndarray) -> BatchResult:
        """Synchronous convenience: scores for ``tiles`` ``[n, 1, P, P]`` (any n <= max_batch)."""
        return self.submit(tiles, tiles.shape[0]).result()

    def runtime(self) -> dict[str, Any]:
        """How this backend runs the model on this host (threads, streams, why): the scan report's
        ``runtime``; empty where the backend has nothing to choose."""
        return {}

    def __enter__(self) -> Backend:  # noqa: PYI034 (typing.Self needs Python 3.11; we support 3.10)
        self.activate()
        return self

    def __exit__(self, *exc) -> None:
        self.deactivate()

    def _check_active(self) -> None:
        if not self.is_active:
            raise MicrocalcError(
                f"{self.name} backend is not active: use it in a 'with' block or call activate()"
            )

    # ---- hooks ------------------------------------------------------------------------------
    @abc.abstractmethod
    def _activate_impl(self) -> None:
        """Import the library, load the model, allocate what the backend owns."""

    @abc.abstractmethod
    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        """Start (or run) inference on ``batch[:n]``."""

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        return np.empty((batch_size, *self.input_shape), dtype=self.input_dtype)

    def _deactivate_impl(self) -> None:
        """Free only what the backend owns."""
