"""The bundle's optional triage model: its manifest entry (``bundle.json`` ``"triage"``), read and checked.

``mc-export --triage CHECKPOINT`` writes ``triage.onnx`` (uint8 ``tiles [N, 1, H, W]`` of any size in,
``p_cluster [N]`` out) with its SHA-256, the operating point its threshold comes from, the spacing
it was trained at and its parity with PyTorch; :class:`~microcalc.bundle.Bundle` loads the entry
and checks the file's hash like every variant's. json + hashlib only: the engine imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microcalc.errors import StaleArtifactError
from microcalc.operating_points import OperatingPoint

TRIAGE_FILE = "triage.onnx"


@dataclass(frozen=True)
class TriageEntry:
    """What ``bundle.json`` says of the triage model.

    Attributes:
        file: the ONNX file, relative to the bundle.
        sha256: its SHA-256.
        point: the operating point whose threshold decides: a tile scoring below it is skipped.
        arch, patch_size, pixel_spacing_mm: what it was trained as (it scores tiles of any size).
        source_checkpoint, parity: where it came from and how it agreed with PyTorch at export.
    """

    file: str
    sha256: str
    point: OperatingPoint
    arch: str
    patch_size: int
    pixel_spacing_mm: float | None = None
    source_checkpoint: dict[str, Any] = field(default_factory=dict)
    parity: dict[str, Any] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return self.point.threshold

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TriageEntry | None:
        """The entry of a manifest (``None`` when the bundle has no triage model)."""
        if not data:
            return None
        spacing = data.get("pixel_spacing_mm")
        return cls(
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            point=OperatingPoint.from_dict(data["operating_point"]),
            arch=str(data["arch"]),
            patch_size=int(data["patch_size"]),
            pixel_spacing_mm=None if spacing is None else float(spacing),
            source_checkpoint=dict(data.get("source_checkpoint") or {}),
            parity=dict(data.get("parity") or {}),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "sha256": self.sha256,
            "threshold": self.threshold,
            "operating_point": self.point.to_dict(),
            "arch": self.arch,
            "patch_size": self.patch_size,
            "pixel_spacing_mm": self.pixel_spacing_mm,
            "source_checkpoint": self.source_checkpoint,
            "parity": self.parity,
        }

    def verify(self, root: Path, *, sha256: str | None, hint: str) -> None:
        """Refuse a missing or altered triage file (``sha256``: the file's, ``None`` when absent)
        with one line ending in ``hint`` (how to rebuild the bundle)."""
        path = root / self.file
        if sha256 is None:
            raise StaleArtifactError(f"{path}: missing triage model; {hint}")
        if sha256 != self.sha256:
            raise StaleArtifactError(
                f"{path}: SHA-256 differs from bundle.json (stale or altered triage model); {hint}"
            )
