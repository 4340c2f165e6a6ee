"""The ``mc-export`` command that rebuilds a bundle: what every stale-file error ends with.

A command that runs as printed (``tests/test_rebuild_hints.py`` parses each with mc-export's own
parser), so a user can copy it from a one-line error. Standard library only: the engine imports it.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any


def export_command(
    manifest: dict[str, Any] | None, bundle_dir: Path, *, precision: str | None = None, fmt: str = "onnx"
) -> str:
    """The ``mc-export`` command that recreates this bundle with every variant it has, plus the
    ``precision`` variant of format ``fmt`` when given: a command that runs as printed (a test parses
    it with mc-export's own parser). FP32 ONNX is always written; INT8 needs calibration patches."""
    manifest = manifest or {}
    members = (manifest.get("ensemble") or {}).get("members") or [manifest.get("source_checkpoint") or {}]
    ckpts = [str(m.get("path") or "CHECKPOINT") for m in members if isinstance(m, dict)] or ["CHECKPOINT"]
    have = {
        (v.get("precision"), v.get("format")) for v in manifest.get("variants") or [] if isinstance(v, dict)
    }
    if precision is not None:
        have.add((precision, fmt))
    args = ["mc-export", *(a for c in ckpts for a in ("--checkpoint", c)), "--out", str(bundle_dir)]
    if any(p == "fp16" for p, _ in have):
        args.append("--fp16")
    if any(p == "int8" for p, _ in have):
        args += ["--int8", "--calib", "CALIB_DIR"]
    if any(f == "tensorrt" for _, f in have):
        args.append("--trt")
    if manifest.get("triage"):
        args += ["--triage", str((manifest["triage"].get("source_checkpoint") or {}).get("path") or "TRIAGE")]
    return shlex.join(args)


def rebuild_hint(
    manifest: dict[str, Any] | None, bundle_dir: Path, *, precision: str | None = None, fmt: str = "onnx"
) -> str:
    """``rebuild it with: <mc-export command>`` (see :func:`export_command`), ending stale-file errors."""
    return f"rebuild it with: {export_command(manifest, bundle_dir, precision=precision, fmt=fmt)}"
