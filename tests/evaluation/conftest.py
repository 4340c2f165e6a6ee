"""mc-froc tests scan with the engine tests' known predictor and DICOM writer (tests/engine)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))
