"""``ScanSettings``: how images are resampled, tiled and judged, validated in one place.

Every command that scans whole mammograms (``mc-scan``, ``mc-scan --ray``, ``mc-froc``,
``mc-serve``, ``mc-bench``) builds one and hands it to :class:`~microcalc.engine.pipeline.Scanner`
or :func:`~microcalc.engine.prepare.prepare`; a bad value is refused with one line here.
``mc-scan``, ``mc-froc`` and ``mc-serve`` build theirs from the same options with
:func:`microcalc.engine.scan_options.settings_from_options`, so that FROC measures the scan a
reader gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from microcalc.errors import MicrocalcError
from microcalc.imaging.spacing import check_spacing_mm


@dataclass(frozen=True)
class ScanSettings:
    """How images are tiled and judged; validated here, in one place.

    Attributes:
        threshold: a tile is suspicious when its cluster probability reaches this.
        overlap: fraction of a tile shared with its neighbour, in ``[0, 1)``.
        min_breast: tiles with a smaller tissue fraction are skipped, in ``[0, 1]``.
        batch_size: tiles per backend call.
        depth: batch buffers in the ring (at least 2).
        cam_fraction: share of the CAM peak that a finding's box encloses.
        mask_factor: downsampling of the copy the breast mask is computed on.
        decode_timeout_s: an input whose reading takes longer is refused and abandoned.
        model_spacing_mm: the model's pixel spacing; each image is resampled to it before masking
            and tiling (:mod:`microcalc.engine.geometry`). ``None``: scan at the native grid.
        input_spacing_mm: spacing of inputs whose header gives none (PNG, PGM, TIFF: ``--spacing``).
        native_grid: scan every image at its own grid despite ``model_spacing_mm`` (``--native-grid``,
            for measuring what resampling is worth).
    """

    threshold: float
    overlap: float = 0.25
    min_breast: float = 0.1
    batch_size: int = 8
    depth: int = 3
    cam_fraction: float = 0.5
    mask_factor: int = 8
    decode_timeout_s: float = 30.0
    model_spacing_mm: float | None = None
    input_spacing_mm: float | None = None
    native_grid: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise MicrocalcError(f"threshold must lie in (0, 1), got {self.threshold}")
        if not 0.0 <= self.overlap < 1.0:
            raise MicrocalcError(f"overlap must lie in [0, 1), got {self.overlap}")
        if not 0.0 <= self.min_breast <= 1.0:
            raise MicrocalcError(f"min-breast must lie in [0, 1], got {self.min_breast}")
        if self.batch_size < 1:
            raise MicrocalcError(f"batch size must be at least 1, got {self.batch_size}")
        if self.depth < 2:
            raise MicrocalcError(f"ring depth must be at least 2, got {self.depth}")
        if not self.decode_timeout_s > 0:
            raise MicrocalcError(f"decode timeout must be positive, got {self.decode_timeout_s}")
        for name, value in (("model spacing", self.model_spacing_mm), ("--spacing", self.input_spacing_mm)):
            if value is not None:
                check_spacing_mm(value, what=name)

    @property
    def max_in_flight(self) -> int:
        """Batches the scanner keeps on the backend at once: one buffer of the ring is always being filled."""
        return self.depth - 1
