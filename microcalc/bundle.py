"""Model bundle: the folder ``mc-export`` writes and ``mc-scan``/``mc-eval``/``mc-bench`` load.

A bundle is ``bundle.json`` (the manifest, schema in ``docs/design.md``) plus the model files it
names, each with its SHA-256. Loading checks the format, the version and every file's hash, and
refuses a stale or mismatched file with a one-line :class:`StaleArtifactError` that says how to
rebuild it, so a scanner never runs an engine built from other weights. json + hashlib only:
the engine imports this without numpy, torch or onnx.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from microcalc.atomic import write_json_atomic
from microcalc.errors import InputError, StaleArtifactError
from microcalc.model_config import ModelConfig
from microcalc.operating_points import OperatingPoints
from microcalc.rebuild import export_command, rebuild_hint
from microcalc.triage_entry import TriageEntry

FORMAT = "microcalc-bundle"
VERSION = 1
MANIFEST = "bundle.json"
FORMATS = ("onnx", "tensorrt")


def file_sha256(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks (ResNet101 files are ~170 MB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Variant:
    """One model file of a bundle (an ONNX model or a TensorRT engine), as its manifest entry says."""

    name: str
    format: str
    precision: str
    file: str
    sha256: str
    library: str | None = None
    sidecar: str | None = None
    onnx_sha256: str | None = None
    parity: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Variant:
        known = {
            "name",
            "format",
            "precision",
            "file",
            "sha256",
            "library",
            "sidecar",
            "onnx_sha256",
            "parity",
        }
        return cls(
            name=str(data["name"]),
            format=str(data["format"]),
            precision=str(data["precision"]),
            file=str(data["file"]),
            sha256=str(data["sha256"]),
            library=data.get("library"),
            sidecar=data.get("sidecar"),
            onnx_sha256=data.get("onnx_sha256"),
            parity=dict(data.get("parity") or {}),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "precision": self.precision,
            "file": self.file,
            "sha256": self.sha256,
        }
        for key in ("library", "sidecar", "onnx_sha256"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["parity"] = self.parity
        out.update(self.extra)
        return out


@dataclass
class Bundle:
    """A loaded, verified bundle. ``Bundle.load(path)`` is the only way in."""

    path: Path
    manifest: dict[str, Any]
    config: ModelConfig
    variants: list[Variant]
    operating_points: OperatingPoints = field(default_factory=OperatingPoints)  # none: exported without them
    triage: TriageEntry | None = None  # the optional first model of the cascade (microcalc.triage_entry)

    @classmethod
    def load(cls, path: str | os.PathLike, *, verify: bool = True) -> Bundle:
        """Read ``path/bundle.json`` and (with ``verify``) check every file's SHA-256.

        Raises:
            InputError: no bundle there, or a malformed manifest.
            StaleArtifactError: a file is missing or its hash differs from the manifest.
        """
        root = Path(path)
        manifest_path = root / MANIFEST
        if not manifest_path.is_file():
            raise InputError(
                f"{root}: not a model bundle (no {MANIFEST}); create one with: "
                f"mc-export --checkpoint CHECKPOINT --out {root}"
            )
        try:
            manifest = json.loads(manifest_path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(
                f"{manifest_path}: unreadable manifest ({exc}); {rebuild_hint(None, root)}"
            ) from exc
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise InputError(f"{manifest_path}: not a microcalc bundle manifest; {rebuild_hint(None, root)}")
        if int(manifest.get("version", 0)) != VERSION:
            raise StaleArtifactError(
                f"{manifest_path}: bundle version {manifest.get('version')} is not "
                f"{VERSION}; {rebuild_hint(manifest, root)}"
            )
        try:
            config = ModelConfig.from_dict(manifest["model"])
            variants = [Variant.from_dict(v) for v in manifest["variants"]]
            points = OperatingPoints.from_dict(manifest.get("operating_points"))
            triage = TriageEntry.from_dict(manifest.get("triage"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{manifest_path}: malformed manifest ({exc!r}); {rebuild_hint(manifest, root)}"
            ) from exc
        bundle = cls(root, manifest, config, variants, operating_points=points, triage=triage)
        if verify:
            for variant in variants:
                bundle.verify(variant)
            if triage is not None:
                present = (root / triage.file).is_file()
                sha = file_sha256(root / triage.file) if present else None
                triage.verify(root, sha256=sha, hint=rebuild_hint(manifest, root))
        return bundle

    @property
    def threshold(self) -> float:
        return float(self.manifest.get("threshold", self.config.threshold))

    @property
    def source_sha256(self) -> str | None:
        return (self.manifest.get("source_checkpoint") or {}).get("sha256")

    def source_checkpoint(self, override: str | os.PathLike | None = None) -> Path:
        """The checkpoint this bundle was exported from (or ``override``), checked against its SHA-256.

        The torch backend and the benchmark's PyTorch reference run it; a different file would make
        every parity figure meaningless, so it is refused (``StaleArtifactError``, with the rebuild
        hint), and a missing one is an ``InputError``. An ensemble has no one checkpoint (refused).
        """
        members = (self.manifest.get("ensemble") or {}).get("members") or []
        if members:
            raise InputError(
                f"{self.path}: an ensemble of {len(members)} checkpoints, which mc-bench's PyTorch "
                "reference does not run; benchmark it with an ONNX backend in mc-scan or mc-froc"
            )
        return self._checked(self.manifest.get("source_checkpoint") or {}, override)

    def source_checkpoints(self) -> list[Path]:
        """Every checkpoint the torch backend runs: an ensemble's members, else the one, each checked."""
        members = (self.manifest.get("ensemble") or {}).get("members") or []
        return [self._checked(m, None) for m in members] if members else [self.source_checkpoint()]

    def _checked(self, source: dict[str, Any], override: str | os.PathLike | None) -> Path:
        named = override if override is not None else source.get("path")
        path = Path(named or "")
        if not named or not path.is_file():
            raise InputError(
                f"{self.path}: its source checkpoint "
                f"{named or '(not named in the manifest)'} is not there; pass the checkpoint"
            )
        if source.get("sha256") and file_sha256(path) != source["sha256"]:
            raise StaleArtifactError(
                f"{path}: the checkpoint changed since the bundle was exported (SHA-256 "
                f"differs); {rebuild_hint(self.manifest, self.path)}"
            )
        return path

    def verify(self, variant: Variant) -> None:
        """Check one variant's file (and sidecar) against the manifest."""
        path = self.path / variant.file
        if not path.is_file():
            raise StaleArtifactError(
                f"{path}: missing file of variant {variant.name}; {rebuild_hint(self.manifest, self.path)}"
            )
        if file_sha256(path) != variant.sha256:
            raise StaleArtifactError(
                f"{path}: SHA-256 differs from {MANIFEST} (stale or altered file); "
                f"{rebuild_hint(self.manifest, self.path)}"
            )
        if variant.format == "tensorrt":
            self._verify_engine(variant)

    def _verify_engine(self, variant: Variant) -> None:
        onnx_variants = [v for v in self.variants if v.format == "onnx" and v.precision == variant.precision]
        if variant.onnx_sha256 and onnx_variants and onnx_variants[0].sha256 != variant.onnx_sha256:
            raise StaleArtifactError(
                f"{self.path / variant.file}: engine was built from another ONNX model; "
                f"{rebuild_hint(self.manifest, self.path)}"
            )
        if variant.sidecar:
            sidecar = self.sidecar(variant)
            if sidecar.get("onnx_sha256") != variant.onnx_sha256:
                raise StaleArtifactError(
                    f"{self.path / variant.sidecar}: sidecar does not match "
                    f"{MANIFEST}; {rebuild_hint(self.manifest, self.path)}"
                )

    def sidecar(self, variant: Variant) -> dict[str, Any]:
        """The JSON sidecar of a TensorRT engine (library, version, compute capabilities, profile)."""
        if not variant.sidecar:
            return {}
        path = self.path / variant.sidecar
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise StaleArtifactError(
                f"{path}: unreadable engine sidecar ({exc}); {rebuild_hint(self.manifest, self.path)}"
            ) from exc

    def variant(self, *, precision: str = "fp32", fmt: str = "onnx", library: str | None = None) -> Variant:
        """The variant of this precision and format (``onnx`` or ``tensorrt``).

        Raises:
            InputError: the bundle has no such variant (the message lists what it has).
        """
        for v in self.variants:
            if v.precision == precision and v.format == fmt and (library is None or v.library == library):
                return v
        have = ", ".join(f"{v.name} ({v.format})" for v in self.variants) or "none"
        raise InputError(
            f"{self.path}: no {precision} {fmt} variant in this bundle (it has: {have}); "
            "add it with: "
            f"{export_command(self.manifest, self.path, precision=precision, fmt=fmt)}"
        )

    def file(self, variant: Variant) -> Path:
        """Absolute path of a variant's file."""
        return self.path / variant.file

    def __iter__(self) -> Iterator[Variant]:
        return iter(self.variants)


def write_manifest(
    bundle_dir: str | os.PathLike,
    *,
    config: ModelConfig,
    source_checkpoint: dict[str, Any],
    input_spec: dict[str, Any],
    outputs: list[dict[str, Any]],
    variants: list[Variant],
    created: str,
    microcalc_version: str,
    operating_points: OperatingPoints | None = None,
) -> dict[str, Any]:
    """Write ``bundle.json`` for files already in ``bundle_dir``; returns the manifest."""
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "microcalc_version": microcalc_version,
        "created": created,
        "model": config.to_dict(),
        "source_checkpoint": source_checkpoint,
        "input": input_spec,
        "outputs": outputs,
        "variants": [v.to_dict() for v in variants],
        **(operating_points or OperatingPoints()).manifest_entries(fallback=config.threshold),
    }
    write_json_atomic(Path(bundle_dir) / MANIFEST, manifest)
    return manifest
