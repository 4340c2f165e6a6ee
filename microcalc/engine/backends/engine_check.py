"""Refuse a TensorRT engine that cannot be trusted here, before deserialising it (no GPU needed).

A serialized engine is valid only for the library (``tensorrt`` or ``tensorrt_rtx``) and version
that built it, on the GPU architectures it was built for, and only as long as it matches the
ONNX model of its bundle. ``mc-export`` records all of this in the engine's JSON sidecar::

    {"library": "tensorrt_rtx", "version": "1.7.1.116", "precision": "fp16",
     "compute_capabilities": ["8.0", "8.6", "8.9", "12.0+"],
     "profile": {"input": "tiles", "min": [1, 1, P, P], "opt": [8, 1, P, P], "max": [16, 1, P, P]},
     "onnx_file": "model.fp16.onnx", "onnx_sha256": "..."}

Each check raises :class:`~microcalc.errors.StaleArtifactError` with one line that names the
engine, what differs, and the command that rebuilds it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.errors import StaleArtifactError
from microcalc.rebuild import rebuild_hint


def normalise_capability(cap: str) -> str:
    """``"SM89"``, ``"sm_89"``, ``"89"`` and ``"8.9"`` -> ``"8.9"``; a trailing ``+`` is kept."""
    text = str(cap).strip()
    plus = "+" if text.endswith("+") else ""
    if re.fullmatch(r"\d+\.\d+\+?", text):
        return text
    digits = re.sub(r"\D", "", text)
    if len(digits) < 2:
        raise ValueError(f"unrecognised compute capability {cap!r}")
    return f"{int(digits[:-1])}.{digits[-1]}{plus}"


def capability_supported(gpu: str, built_for: list[str]) -> bool:
    """Whether a GPU of capability ``gpu`` (``"9.0"``) runs an engine built for ``built_for``
    (entries such as ``"8.9"`` or ``"12.0+"``, meaning that capability or newer)."""

    def key(c: str) -> tuple[int, int]:
        major, minor = c.rstrip("+").split(".")
        return int(major), int(minor)

    have = key(normalise_capability(gpu))
    for entry in built_for:
        cap = normalise_capability(entry)
        if key(cap) == have or (cap.endswith("+") and have >= key(cap)):
            return True
    return False


def check_engine(
    sidecar: dict[str, Any],
    *,
    engine: Path,
    library: str,
    version: str,
    capability: str,
    onnx_sha256: str | None,
    max_batch: int,
    rebuild: str,
) -> None:
    """Raise ``StaleArtifactError`` unless the engine fits this library, GPU, model and batch size.

    Args:
        sidecar: the engine's JSON sidecar (as written by ``mc-export --trt``).
        engine: the engine file, named in the message.
        library, version: the TensorRT library imported here and its ``__version__``.
        capability: this GPU's compute capability, ``"major.minor"``.
        onnx_sha256: SHA-256 of the bundle's ONNX model of the same precision.
        max_batch: the largest batch the caller will submit.
        rebuild: the hint appended to every message (``rebuild it with: mc-export ...``).
    """

    def stale(problem: str) -> StaleArtifactError:
        return StaleArtifactError(f"{engine}: {problem}; {rebuild}")

    if not sidecar:
        raise stale("no sidecar describes this engine")
    built_with = sidecar.get("library")
    if built_with != library:
        raise stale(f"built with {built_with}, but {library} is what is installed here")
    if sidecar.get("version") != version:
        raise stale(
            f"built with {library} {sidecar.get('version')}, this is {library} {version} "
            "(engines are tied to the exact version)"
        )
    caps = [str(c) for c in sidecar.get("compute_capabilities") or []]
    try:
        ok = capability_supported(capability, caps)
    except ValueError as exc:
        raise stale(f"sidecar has a malformed compute capability ({exc})") from exc
    if not ok:
        raise stale(
            f"built for GPUs of compute capability {', '.join(caps) or 'unknown'}, this GPU is {capability}"
        )
    if onnx_sha256 is not None and sidecar.get("onnx_sha256") != onnx_sha256:
        raise stale("built from another ONNX model than the bundle's (SHA-256 differs)")
    profile_max = ((sidecar.get("profile") or {}).get("max") or [None])[0]
    if profile_max is not None and max_batch > int(profile_max):
        raise stale(
            f"built for batches up to {profile_max}, asked for {max_batch} "
            "(use a smaller batch or rebuild with a larger --max-batch)"
        )


@dataclass(frozen=True)
class EngineFiles:
    """What the TensorRT backend needs from a bundle to check and run one engine."""

    engine: Path
    sidecar: dict[str, Any]
    onnx_sha256: str | None
    rebuild: str


def engine_files(bundle: Any, variant: Any) -> EngineFiles:
    """The engine file, its sidecar, the SHA-256 of the ONNX model it must match, and the rebuild hint."""
    onnx = [v for v in bundle.variants if v.format == "onnx" and v.precision == variant.precision]
    return EngineFiles(
        engine=bundle.file(variant),
        sidecar=bundle.sidecar(variant),
        onnx_sha256=onnx[0].sha256 if onnx else variant.onnx_sha256,
        rebuild=rebuild_hint(bundle.manifest, bundle.path, precision=variant.precision, fmt="tensorrt"),
    )
