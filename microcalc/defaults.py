"""Where commands look when no path is given (no torch, no onnx).

``MICROCALC_HOME`` (default ``~/.microcalc``) holds the default checkpoint
(``checkpoint.pt``) and the default model bundle (``bundle/``) that ``mc-export`` writes and
``mc-scan``/``mc-eval``/``mc-bench`` read. ``MICROCALC_CHECKPOINT`` and ``MICROCALC_BUNDLE``
override each path on its own.
"""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("MICROCALC_HOME", Path.home() / ".microcalc")).expanduser()


def default_checkpoint() -> Path:
    """The checkpoint ``mc-export`` uses without ``--checkpoint``."""
    env = os.environ.get("MICROCALC_CHECKPOINT")
    return Path(env).expanduser() if env else home() / "checkpoint.pt"


def default_bundle() -> Path:
    """The bundle ``mc-export`` writes without ``--out`` and ``mc-scan`` reads without ``--model``."""
    env = os.environ.get("MICROCALC_BUNDLE")
    return Path(env).expanduser() if env else home() / "bundle"


def real_patches_dir() -> Path:
    """``../shared/data/real_patches`` beside a source checkout: the two published patches
    (``calc.png``, ``mass.png``) that export and benchmarks add to their parity sets when present."""
    return Path(__file__).resolve().parents[2] / "shared" / "data" / "real_patches"
