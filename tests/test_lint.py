"""The code passes ruff with the project's settings (line length 110 included): CI enforces it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PATHS = ["microcalc", "tests", "benchmarks", "scripts"]


def test_ruff_check_passes():
    pytest.importorskip("ruff", reason="ruff is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", *PATHS],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
