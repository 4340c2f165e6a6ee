"""``ScanResult``: what the scanning pipeline gives back for one input (its own module so that
:mod:`~microcalc.engine.prepare`, the stages of :mod:`~microcalc.engine.pipeline` and
:mod:`~microcalc.engine.triage` share it without importing each other)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from microcalc.engine.findings import Finding
from microcalc.engine.geometry import ScanGeometry
from microcalc.engine.tiler import TileGrid
from microcalc.errors import InternalError, MicrocalcError
from microcalc.imaging.types import Mammogram

if TYPE_CHECKING:
    from microcalc.engine.triage import TriageOutcome


@dataclass
class ScanResult:
    """One input's outcome: either ``error`` is set, or the image was scanned.

    ``error`` is an :class:`~microcalc.errors.InputError` (the input's fault) or an
    :class:`~microcalc.errors.InternalError` (a bug met on this input); both are one line that
    names the file. ``times_ms`` holds ``decode``, ``resample`` (to the model's spacing),
    ``tiling`` (mask, grid and tile copies), ``inference`` (wall time during which at least one
    of the image's batches was in the backend), ``stitching`` and ``wall`` (decode start to
    stitching end; consecutive images overlap, so do their walls). ``image``, ``grid`` and
    ``scan_findings`` are in the scanned grid, ``findings`` in the original grid (``geometry``
    maps one to the other). ``triage``: what :mod:`~microcalc.engine.triage` skipped, when it ran.
    """

    index: int
    path: Path
    image: Mammogram | None = None
    grid: TileGrid | None = None
    scores: np.ndarray | None = None
    cams: np.ndarray | None = None
    heat: np.ndarray | None = None
    findings: list[Finding] = field(default_factory=list)
    scan_findings: list[Finding] = field(default_factory=list)
    geometry: ScanGeometry | None = None
    times_ms: dict[str, float] = field(default_factory=dict)
    backend_ms: dict[str, float] = field(default_factory=dict)
    error: MicrocalcError | InternalError | None = None
    triage: TriageOutcome | None = None
