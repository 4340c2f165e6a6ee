"""The CPU work on one input before inference: read, resample to the model's spacing, mask, tile.

:func:`prepare` runs on the scanner's decode thread (:class:`~microcalc.engine.jobs.ScanInputs`),
on the early first decode's own thread, in ``mc-bench``'s decode processes and in ``mc-scan
--ray``'s Ray tasks: one function, so that each of them prepares an image the same way. The "at
least one tile" check runs once, here, on the grid that is tiled (after resampling), so an image
smaller than one tile at its own spacing but large enough at the model's spacing is scanned.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from microcalc.engine.geometry import to_model_grid
from microcalc.engine.mask import breast_mask
from microcalc.engine.read_guard import Reader, read_checked
from microcalc.engine.scan_result import PreparedImage, ScanFailure
from microcalc.engine.settings import ScanSettings
from microcalc.engine.tiler import plan_tiles
from microcalc.errors import InternalError, MicrocalcError


def prepare(
    index: int,
    path: Path,
    *,
    reader: Reader,
    settings: ScanSettings,
    patch_size: int,
    stop: threading.Event | None = None,
) -> PreparedImage | ScanFailure:
    """Read one input, resample it to the model's spacing, mask the breast, lay the tile grid; a
    refused input comes back as a :class:`ScanFailure`, never raised."""
    times: dict[str, float] = {}
    started = time.perf_counter()
    try:
        image = read_checked(reader, path, timeout_s=settings.decode_timeout_s, stop=stop)
        times["decode"] = (time.perf_counter() - started) * 1e3
        t = time.perf_counter()
        image, geometry = to_model_grid(
            image,
            model_spacing_mm=settings.model_spacing_mm,
            input_spacing_mm=settings.input_spacing_mm,
            native_grid=settings.native_grid,
            min_side=patch_size,
        )
        times["resample"] = (time.perf_counter() - t) * 1e3
        t = time.perf_counter()
        mask = breast_mask(image.pixels, factor=settings.mask_factor)
        grid = plan_tiles(mask, size=patch_size, overlap=settings.overlap, min_breast=settings.min_breast)
        times["tiling"] = (time.perf_counter() - t) * 1e3
    except (MicrocalcError, InternalError) as exc:
        return ScanFailure(index=index, path=path, error=exc, times_ms=times)
    return PreparedImage(index=index, path=path, image=image, geometry=geometry, grid=grid, times_ms=times)
