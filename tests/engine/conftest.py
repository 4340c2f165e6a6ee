"""Engine fixtures; the fake backend and test images live in ``engine_fakes``."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fakes import TINY_PATCH, TINY_THRESHOLD, MeanBackend, mean_backend_opener, write_tiny_bundle

from microcalc.engine import session


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


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    """A bundle manifest for a 64-px model; the model file is a placeholder run by MeanBackend."""
    return write_tiny_bundle(tmp_path / "bundle", patch=TINY_PATCH, threshold=TINY_THRESHOLD)


@pytest.fixture
def fake_backend(monkeypatch):
    """mc-scan's backend choice replaced by the known predictor."""
    monkeypatch.setattr(session, "open_backend", mean_backend_opener(TINY_PATCH))
