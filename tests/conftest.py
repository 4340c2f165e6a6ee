"""Shared fixtures. Expensive artefacts (patch sets, a trained small model, a bundle) are built
once per session through the public CLIs, exactly as a user would make them."""

from __future__ import annotations

from pathlib import Path

import pytest

REAL_PATCHES = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real_patches"


@pytest.fixture(scope="session")
def real_patches_dir() -> Path:
    """``../shared/data/real_patches`` (calc.png = cluster, mass.png = no cluster); skipped if absent."""
    if not (REAL_PATCHES / "calc.png").is_file():
        pytest.skip(f"real patches not found at {REAL_PATCHES} (../shared is absent)")
    return REAL_PATCHES
