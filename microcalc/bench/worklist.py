"""Decode and tile a worklist in worker processes, so one GPU is not starved by one decoding thread.

A 4096x3328 mammogram takes a CPU core hundreds of milliseconds to decode, mask and tile, while
a GPU scores its tiles in tens: a worklist must be prepared on several cores at once. Threads
would share the GIL in the Python parts, so :func:`prepared_in_processes` runs the engine's own
:func:`~microcalc.engine.prepare.prepare` in a pool of processes (spawned: the parent holds CUDA
and threads, which a fork must not copy), at most ``2 * workers`` images ahead, and yields the
results in worklist order for :meth:`~microcalc.engine.pipeline.Scanner.scan_prepared`.
"""

from __future__ import annotations

import multiprocessing
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any


@contextmanager
def decode_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A started pool of ``workers`` spawned processes (each has imported the engine before timing)."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        for future in [pool.submit(_import_engine) for _ in range(workers)]:
            future.result()  # processes started and the engine imported before anyone times them
        yield pool


def _import_engine() -> None:
    import microcalc.engine.prepare  # noqa: F401 - warm the import in a worker before timing


def prepared_in_processes(
    pool: ProcessPoolExecutor, paths: list[Path], *, reader: Any, settings: Any, patch_size: int, workers: int
) -> Iterator[Any]:
    """``prepare(i, path)`` for each path in ``pool``, yielded in order, at most ``2 * workers`` ahead."""
    from microcalc.engine.prepare import prepare

    job = partial(prepare, reader=reader, settings=settings, patch_size=patch_size)
    ahead: deque = deque()
    todo = iter(enumerate(paths))
    for index, path in todo:
        ahead.append(pool.submit(job, index, Path(path)))
        if len(ahead) >= 2 * workers:
            break
    while ahead:
        result = ahead.popleft().result()
        for index, path in todo:  # refill one
            ahead.append(pool.submit(job, index, Path(path)))
            break
        yield result
