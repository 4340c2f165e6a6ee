"""Decoding untrusted files in worker processes that can be killed and replaced.

A thread cannot be stopped: a decoder that loops forever on a hostile file would keep its
thread, its CPU and its memory for the rest of a batch, and a decoder that crashes (a segfault,
a Rust abort) takes the whole process with it. :class:`IsolatedReader` runs the reader in a small
pool of ``python -m microcalc.imaging.decode_worker`` processes instead:

- a read that takes longer than ``timeout_s`` is refused and its worker killed (SIGKILL);
- a worker that dies while reading refuses that input, naming how it died;
- the next read starts a fresh worker, so the batch goes on;
- a worker's stderr is a private temporary file and ``RUST_BACKTRACE=0`` is set for the worker
  only, so native panic messages and backtraces never reach the console.

The price is handing each decoded image back: large pixel arrays go through one file in
``/dev/shm`` (a write and a read of RAM), everything else through the socket (measured in the README).
"""

from __future__ import annotations

import contextlib
import dataclasses
import glob
import os
import pickle
import queue
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

import numpy as np

from microcalc.errors import InputError, InternalError, MicrocalcError
from microcalc.imaging.decode_worker import SHM_DIR, SHM_PREFIX

START_TIMEOUT_S = 120.0
"""How long a fresh worker may take to import numpy and pydicom (generous: a loaded machine)."""

_WORKER_ENV = {
    "RUST_BACKTRACE": "0",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONWARNINGS": "ignore",
}


class IsolatedReader:
    """A reader (``path -> Mammogram``) that runs ``read`` in killable worker processes.

    Args:
        read: the reader to isolate; it is pickled into each worker, so a module-level function
            or a ``functools.partial`` of one (e.g. ``partial(read_mammogram, min_side=674)``).
        timeout_s: a read that takes longer is refused and its worker killed.
        workers: processes in the pool; concurrent callers share them (one per decode thread).

    Use as a context manager, or call :meth:`close`, so that no worker outlives it.
    """

    abandons_hung_reads = True  # read_checked calls it directly: it enforces its own deadline

    def __init__(self, read: Callable[[Path], Any], *, timeout_s: float = 30.0, workers: int = 1) -> None:
        if not timeout_s > 0:
            raise MicrocalcError(f"decode timeout must be positive, got {timeout_s}")
        if workers < 1:
            raise MicrocalcError(f"decoder workers must be at least 1, got {workers}")
        self.timeout_s = timeout_s
        self._payload = pickle.dumps(read)
        # Linux kills a worker when the *thread* that started it ends (PR_SET_PDEATHSIG), so every
        # worker is started by this one long-lived thread, never by a short-lived scan thread.
        self._launcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mc-decode-launcher")
        self._workers = [_Worker(self._payload, self._launcher) for _ in range(workers)]
        self._idle: queue.Queue[_Worker] = queue.Queue()
        for worker in self._workers:
            self._launcher.submit(worker.launch).result()  # imports overlap with the caller's own start-up
            self._idle.put(worker)

    def __call__(self, path: Path) -> Any:
        worker = self._idle.get()
        try:
            return worker.read(Path(path), timeout_s=self.timeout_s)
        finally:
            self._idle.put(worker)

    def close(self) -> None:
        """Stop every worker (waits for none: a busy one is killed)."""
        for worker in self._workers:
            worker.stop()
        self._launcher.shutdown(wait=False)

    def __enter__(self) -> IsolatedReader:  # noqa: PYI034 (typing.Self needs Python 3.11)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _from_shared_memory(image: Any, name: str, shape: tuple[int, ...], dtype: str) -> Any:
    """The worker's image with its pixels read back (one copy) from ``name``, which is removed."""
    try:
        pixels = np.fromfile(name, dtype=np.dtype(dtype)).reshape(shape)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
    return dataclasses.replace(image, pixels=pixels)


class _Worker:
    """One decoder process, started on first use and again after it is killed or dies."""

    def __init__(self, payload: bytes, launcher: ThreadPoolExecutor) -> None:
        self._payload = payload
        self._launcher = launcher
        self._proc: subprocess.Popen | None = None
        self._conn: Connection | None = None
        self._stderr: IO[bytes] | None = None
        self._last_code: int | None = None
        self._ready = False

    def read(self, path: Path, *, timeout_s: float) -> Any:
        conn = self._ready_conn()
        self._stderr.seek(0)  # only this read's messages are kept, for a death notice
        self._stderr.truncate()
        try:
            conn.send(str(path))
            if not conn.poll(timeout_s):
                self.stop()
                raise InputError(
                    f"{path}: decoding took longer than {timeout_s:g} s and was abandoned "
                    "(the decoder process was killed; see --decode-timeout)"
                )
            kind, value = conn.recv()
        except (EOFError, OSError) as exc:
            how = self._death()
            raise InputError(f"{path}: the decoder process died while reading it ({how})") from exc
        if kind == "ok":
            return value
        if kind == "shm":
            return _from_shared_memory(*value)
        raise InputError(value) if kind == "input" else InternalError(value)

    def launch(self) -> None:
        """Start a fresh process (without waiting for it to import its libraries)."""
        self.stop()
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile(prefix="mc-decode-")  # noqa: SIM115 - lives as long as the worker
        env = {**os.environ, **_WORKER_ENV}
        with ours, theirs:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "microcalc.imaging.decode_worker", str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=self._stderr,
                env=env,
                start_new_session=True,
            )
            self._conn = Connection(os.dup(ours.fileno()))
        self._ready = False
        try:
            self._conn.send_bytes(self._payload)
        except OSError:
            pass  # it died at once: _ready_conn says how

    def _ready_conn(self) -> Connection:
        if self._proc is None or self._proc.poll() is not None:
            self._launcher.submit(self.launch).result()
        if not self._ready:
            try:
                self._ready = self._conn.poll(START_TIMEOUT_S) and self._conn.recv()[0] == "ready"
            except (EOFError, OSError):
                self._ready = False
            if not self._ready:
                raise MicrocalcError(f"the decoder process did not start ({self._death()})")
        return self._conn

    def _death(self) -> str:
        """Kill the worker if it still runs; say how it ended, with its last stderr line."""
        self.stop(keep_stderr=True)
        code = self._last_code
        if code is not None and code < 0 and -code in signal.valid_signals():
            how = f"signal {signal.Signals(-code).name}"
        else:
            how = f"exit status {code}"
        tail = ""
        if self._stderr is not None:
            self._stderr.seek(0)
            lines = [
                line.strip()
                for line in self._stderr.read().decode(errors="replace").splitlines()
                if line.strip() and not line.startswith(("note:", "stack backtrace"))
            ]
            tail = f": {lines[-1][:200]}" if lines else ""
            self._stderr.close()
            self._stderr = None
        return how + tail

    def stop(self, *, keep_stderr: bool = False) -> None:
        """Kill the process if it runs and forget it; the next read starts a fresh one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.kill()
            self._last_code = self._proc.wait()
            for left in glob.glob(
                os.path.join(SHM_DIR, f"{SHM_PREFIX}{self._proc.pid}-*")
            ):  # killed mid-reply
                with contextlib.suppress(OSError):
                    os.unlink(left)
            self._proc = None
        if self._stderr is not None and not keep_stderr:
            self._stderr.close()
            self._stderr = None
