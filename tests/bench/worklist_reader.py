"""A picklable reader for worker-process tests: a phantom mammogram whose spot moves with the file name."""

from __future__ import annotations

from pathlib import Path

from tests.engine.engine_fakes import as_image, phantom


def read_phantom(path: Path):
    """``img-<k>.dcm`` -> a 600x500 phantom with its bright spot at row 100 + 50 k (no file is read)."""
    k = int(Path(path).stem.split("-")[1])
    return as_image(phantom(spots=((100 + 50 * k, 150),), seed=k), name=str(path))
