"""Small stand-in patch sets for the trainer's round-trip tests (seconds, not minutes).

Noise patches; clusters carry a few bright 3x3 specks. The learning test uses the shared
``trained_run`` fixture (mc-synth data) instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.stand_in import write_patches


@pytest.fixture(scope="session")
def tiny_patches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 + 12 patches of 32x32 (cluster/, normal/)."""
    return write_patches(tmp_path_factory.mktemp("tiny") / "data", n_per_class=12, size=32, seed=3)
