"""Engine fixtures; the fake backend and test images live in ``engine_fakes``."""

from __future__ import annotations

import pytest
from engine_fakes import MeanBackend


@pytest.fixture
def mean_backend():
    """Factory: an active MeanBackend for a patch size; deactivated after the test."""
    made: list[MeanBackend] = []

    def make(patch: int = 64, max_batch: int = 4) -> MeanBackend:
        backend = MeanBackend(patch=patch, max_batch=max_batch)
        backend.activate()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.deactivate()
