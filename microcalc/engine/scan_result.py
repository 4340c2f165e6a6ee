"""The values that flow one way through a scan, each frozen once made:

``prepare`` -> :class:`PreparedImage` (pixels in the scanned grid, the geometry that says so, the
tile grid) -> the pipeline's stages collect scores and CAMs (each in the stage that owns them, in
:class:`~microcalc.engine.stages.Job`) -> :class:`ScanResult` at stitching; an input refused on
the way becomes a :class:`ScanFailure` instead. Their own module, so that
:mod:`~microcalc.engine.prepare`, :mod:`~microcalc.engine.pipeline` and
:mod:`~microcalc.engine.triage` share them without importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from microcalc.engine.findings import Finding
from microcalc.engine.geometry import ScanGeometry
from microcalc.engine.tiler import TileGrid
from microcalc.errors import InternalError, MicrocalcError
from microcalc.imaging.types import Mammogram

if TYPE_CHECKING:
    from microcalc.engine.triage import TriageOutcome


@dataclass(frozen=True)
class ScanFailure:
    """An input that was refused: ``error`` is an :class:`~microcalc.errors.InputError` (the input's
    fault) or an :class:`~microcalc.errors.InternalError` (a bug met on this input); both are one line
    that names the file. ``times_ms``: the stages it went through before."""

    index: int
    path: Path
    error: MicrocalcError | InternalError
    times_ms: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedImage:
    """One input read, resampled to the model's spacing, masked and tiled (before inference).

    ``pixels`` are in the scanned grid, ``geometry.scanned_shape``; ``meta`` is the image's as read
    (its ``rows``/``cols`` are the original grid's, which ``geometry.original_shape`` repeats);
    ``grid`` tiles the scanned grid. ``times_ms``: ``decode``, ``resample``, ``tiling``.
    """

    index: int
    path: Path
    image: Mammogram
    geometry: ScanGeometry
    grid: TileGrid
    times_ms: Mapping[str, float] = field(default_factory=dict)
    error: ClassVar[None] = None  # prepared, not refused (see ScanFailure)

    def __post_init__(self) -> None:
        if tuple(self.image.pixels.shape) != tuple(self.geometry.scanned_shape):
            raise InternalError(
                f"{self.path}: internal error: pixels {self.image.pixels.shape} are not in the scanned grid "
                f"{self.geometry.scanned_shape}; this is a bug in microcalc"
            )


@dataclass(frozen=True)
class ScanResult:
    """One scanned input. ``image``, ``grid``, ``scores``, ``cams``, ``heat`` and ``scan_findings``
    are in the scanned grid, ``findings`` in the original grid (``geometry`` maps one to the other).

    ``times_ms`` holds ``decode``, ``resample`` (to the model's spacing), ``tiling`` (mask, grid
    and tile copies), ``triage`` (when it ran), ``inference`` (wall time during which at least one
    of the image's batches was in the backend), ``stitching`` and ``wall`` (decode start to
    stitching end; consecutive images overlap, so do their walls). ``triage``: what
    :mod:`~microcalc.engine.triage` skipped, when it ran.
    """

    index: int
    path: Path
    image: Mammogram
    geometry: ScanGeometry
    grid: TileGrid
    scores: np.ndarray
    cams: np.ndarray | None
    heat: np.ndarray
    findings: list[Finding]
    scan_findings: list[Finding]
    times_ms: Mapping[str, float] = field(default_factory=dict)
    backend_ms: Mapping[str, float] = field(default_factory=dict)
    triage: TriageOutcome | None = None
    error: ClassVar[None] = None  # scanned, not refused (see ScanFailure)
