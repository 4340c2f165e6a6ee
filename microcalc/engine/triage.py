"""Triage: the cheap first model of the cascade decides which tiles the main model sees.

Data flow of one image with triage on (:class:`~microcalc.engine.pipeline.Scanner`'s fill stage)::

    tile grid -> triage.onnx scores every breast tile -> tiles at or above its threshold
              -> batches -> the main backend (whichever it is) -> scores of the kept tiles
              -> expand: skipped tiles get score 0.0 and an all-zero CAM -> score grid, findings

A skipped tile's score, 0.0, lies below every operating point (thresholds lie in (0, 1)), so it
never joins a finding; the score grid and the overview's heat map show it as 0 (a confidently
normal tile), while tiles outside the breast stay NaN (not scanned). The triage model runs in
ONNX Runtime on the CPU whatever backend runs the main model, through the same
:class:`~microcalc.engine.backends.onnxruntime.OnnxRuntimeBackend` class (the one place an ONNX
Runtime session is built); onnxruntime is imported only when triage is on. Mordang et al. (IWDM 2016)
introduced this two-CNN cascade for microcalcifications.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.tiler import TileGrid, fill_batch
from microcalc.errors import InputError, InternalError, one_line
from microcalc.tensor_names import P_CLUSTER
from microcalc.triage_entry import TriageEntry

BATCH = 8
WARM_UP_BATCHES = 2  # see Triage.warm_up


@dataclass(frozen=True)
class TriageOutcome:
    """One image's triage: ``scores`` of every grid tile and the indices of those ``kept``."""

    scores: np.ndarray
    kept: np.ndarray
    threshold: float

    @property
    def skipped(self) -> int:
        return int(self.scores.size - self.kept.size)

    def expand(self, scores: np.ndarray, cams: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The main model's ``scores`` and ``cams`` of the kept tiles, spread over the whole grid:
        skipped tiles get 0.0 and an all-zero CAM (see the module docstring)."""
        full = np.zeros(self.scores.size, dtype=np.float32)
        full[self.kept] = scores
        cam_shape = (1, 1) if cams is None or cams.shape[0] == 0 else cams.shape[1:]
        full_cams = np.zeros((self.scores.size, *cam_shape), dtype=np.float32)
        if cams is not None and cams.shape[0]:
            full_cams[self.kept] = cams
        return full, full_cams

    def kept_grid(self, grid: TileGrid) -> TileGrid:
        """The sub-grid of the kept tiles of ``grid`` (the image's full grid): what the main model sees."""
        return dataclasses.replace(grid, **{k: getattr(grid, k)[self.kept] for k in ("ys", "xs", "ii", "jj")})

    def to_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "tiles": int(self.scores.size), "skipped": self.skipped}


class Triage:
    """The bundle's triage model on the ONNX Runtime CPU backend; :meth:`select` triages one image.

    Args:
        entry: the bundle's triage entry (hash already checked by ``Bundle.load``).
        path: the triage ONNX file.
        tile_size: open the backend for these tiles now (the model scores tiles of any size; one
            backend per size is opened on first use).
        threads: ONNX Runtime intra-op threads [default: one per physical core, as the main
            backends size theirs (:mod:`~microcalc.engine.cpu_info`)].

    The session's threads never spin-wait for work (``session.intra_op.allow_spinning`` off): in a
    worklist the next image is triaged while the main backend computes the current one on the same
    cores, and ONNX Runtime's default spinning between operators burned the CPU time the main
    model's streams needed (``benchmarks/RESULTS.md``, issue 26).
    """

    def __init__(
        self, entry: TriageEntry, path: Path, *, tile_size: int | None = None, threads: int | None = None
    ) -> None:
        self.entry, self.path, self.threads = entry, Path(path), threads
        self._backends: dict[int, OnnxRuntimeBackend] = {}
        if tile_size is not None:  # a model ONNX Runtime cannot load is refused now, not per image
            self.backend(tile_size)

    def backend(self, tile_size: int) -> OnnxRuntimeBackend:
        """The active ONNX Runtime backend (CPU, ``p_cluster`` only, no spin-waiting) for tiles of
        ``tile_size``: the same class that runs the main model on ``--backend onnxruntime``."""
        if tile_size not in self._backends:
            backend = OnnxRuntimeBackend(
                self.path,
                input_shape=(1, tile_size, tile_size),
                max_batch=BATCH,
                threads=self.threads,
                outputs=(P_CLUSTER,),
            )
            backend.activate()
            self._backends[tile_size] = backend
        return self._backends[tile_size]

    def warm_up(self) -> None:
        """Two full batches of blank tiles through every open session, so that ONNX Runtime allocates
        and plans its memory now, under the first image's decode, and not inside the first image's
        triage: its first two runs of a batch shape each take 2.3x a warm one (8 tiles at 674 px in a
        fresh process: 178, 163, then 69 ms; after two blank batches, 70 at once)."""
        for backend in self._backends.values():
            buffer = backend.host_buffer(BATCH)
            buffer[:] = 0
            for _ in range(WARM_UP_BATCHES):
                backend.submit(buffer, BATCH).result()

    def close(self) -> None:
        """Free the ONNX Runtime sessions (a later :meth:`score` opens them again)."""
        for backend in self._backends.values():
            backend.deactivate()
        self._backends.clear()

    @classmethod
    def from_bundle(cls, bundle: Any, *, wanted: bool | None = None) -> Triage | None:
        """The triage of a loaded :class:`~microcalc.bundle.Bundle` as ``--triage/--no-triage`` asks
        (``wanted``: ``None``, on when the bundle has one); ``InputError`` for ``True`` without one."""
        if wanted is False or (wanted is None and bundle.triage is None):
            return None
        if bundle.triage is None:
            raise InputError(
                f"{bundle.path}: this bundle has no triage model; add one with mc-export --triage CHECKPOINT"
            )
        return cls(bundle.triage, bundle.path / bundle.triage.file, tile_size=bundle.config.patch_size)

    def score(self, pixels: np.ndarray, grid: TileGrid) -> np.ndarray:
        """Triage probability of each tile of ``grid`` (float32 ``[n]``), tiles copied as the scanner does."""
        scores = np.empty(len(grid), dtype=np.float32)
        backend = self.backend(grid.size)
        buffer = backend.host_buffer(min(BATCH, max(1, len(grid))))
        first = 0
        while first < len(grid):
            n = fill_batch(pixels, grid, first, buffer)
            scores[first : first + n] = backend.submit(buffer, n).result().p_cluster
            first += n
        return scores

    def select(self, pixels: np.ndarray, grid: TileGrid, *, path: Path) -> TriageOutcome:
        """Triage one prepared image (``pixels`` and the ``grid`` over them, from ``path``): which of
        the grid's tiles go to the main model (``TriageOutcome.kept_grid``).

        Raises:
            InternalError: the triage model failed on this image, one line naming it; the scanner
                refuses this image alone and goes on with the next input.
        """
        try:
            scores = self.score(pixels, grid)
        except Exception as exc:  # any failure of the runtime costs this input only
            raise InternalError(
                f"{path}: the triage model failed on this image ({one_line(exc)}); "
                "--no-triage scans it with the main model alone"
            ) from exc
        kept = np.flatnonzero(scores >= self.entry.threshold)
        return TriageOutcome(scores=scores, kept=kept, threshold=self.entry.threshold)
