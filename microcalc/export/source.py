"""What ``mc-export`` exports: one checkpoint, or several of one architecture averaged in one graph.

An ensemble bundle is an ordinary bundle (same ``tiles`` -> ``p_cluster``, ``cam`` contract), so
backends, parity checks and the scanner need nothing new. Its manifest names the members under
``"ensemble"`` (path, file and weights SHA-256, training seed) instead of one ``source_checkpoint``.

Operating points of an ensemble are recomputed, never copied or averaged: each member's patch points
were chosen on its own validation split (``mc-train`` draws it with the member's seed, so one member's
validation patches are another's training patches), and the mean of k probabilities has another
distribution than any member's, so neither a member's threshold nor the mean of their thresholds
says what the ensemble achieves. ``mc-export --calib`` with labelled patches held out from every
member gives the patch points (``patch_points``, as ``mc-train`` computes them); ``mc-froc
--calibrate`` gives the image-level ``fpK`` points, as for any bundle.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bundle import file_sha256
from microcalc.errors import InputError
from microcalc.imaging.spacing import check_spacing_mm, same_spacing
from microcalc.model_config import ModelConfig
from microcalc.operating_points import OperatingPoints, patch_points

COMBINE = "mean of the members' p_cluster and cam, in one ONNX graph"


@dataclass
class ExportSource:
    """The loaded checkpoint(s), their shared config and the graph to export."""

    paths: tuple[Path, ...]
    checkpoints: tuple[Any, ...]  # microcalc.models.checkpoint.Checkpoint
    config: ModelConfig
    tile_model: Any  # TileClassifier or EnsembleTileClassifier

    @property
    def is_ensemble(self) -> bool:
        return len(self.paths) > 1

    def reference(self) -> Callable[[np.ndarray], np.ndarray]:
        """The PyTorch FP32 reference parity is proven against: the checkpoint's own model, or the mean
        of the members' (each on its unfolded network, summed in member order as the graph does)."""
        from microcalc.export.parity import torch_reference

        runs = [torch_reference(c) for c in self.checkpoints]
        if len(runs) == 1:
            return runs[0]
        return lambda tiles: sum_then_divide([run(tiles) for run in runs])

    def source_record(self) -> dict[str, Any]:
        """The manifest's ``source_checkpoint``: the one checkpoint, or a pointer to ``ensemble``."""
        if self.is_ensemble:
            return {"ensemble": len(self.paths), "source": "microcalc-ensemble"}
        return _member(self.paths[0], self.checkpoints[0])

    def ensemble_record(self) -> dict[str, Any] | None:
        """The manifest's ``ensemble`` entry (``None`` for one checkpoint)."""
        if not self.is_ensemble:
            return None
        return {
            "combine": COMBINE,
            "members": [_member(p, c) for p, c in zip(self.paths, self.checkpoints)],
        }

    def operating_points(self, points_set: Any, scores: np.ndarray | None) -> OperatingPoints:
        """A single checkpoint's own points; for an ensemble, patch points recomputed on ``points_set``
        (the labelled ``--calib`` patches, scored ``scores``) or none (see the module docstring)."""
        if not self.is_ensemble:
            return self.checkpoints[0].operating_points
        if points_set is None or scores is None or not points_set.labelled:
            return OperatingPoints()
        return patch_points(points_set.labels == 1, scores)


def sum_then_divide(outputs: Sequence[np.ndarray]) -> np.ndarray:
    """numpy's ``(o_1 + ... + o_k) / k`` in float32, the expression the ensemble graph computes."""
    total = outputs[0].astype(np.float32)
    for out in outputs[1:]:
        total = total + out.astype(np.float32)
    return (total / np.float32(len(outputs))).astype(np.float32)


def _seed(path: Path) -> int | None:
    """The training seed ``mc-train`` recorded in ``metrics.json`` beside the checkpoint, if any."""
    try:
        seed = json.loads((path.parent / "metrics.json").read_text())["options"]["seed"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return seed if isinstance(seed, int) else None


def _member(path: Path, checkpoint: Any) -> dict[str, Any]:
    return {
        "path": str(path.resolve()),
        "sha256": file_sha256(path),
        "weights_sha256": checkpoint.weights_sha256,
        "source": checkpoint.source,
        "seed": _seed(path),
    }


def with_spacing(config: ModelConfig, value: float | None, checkpoint_path: Path) -> ModelConfig:
    """``config`` with ``--model-spacing`` applied: sets it where the checkpoint has none, refuses a
    contradiction."""
    if value is None:
        return config
    value = check_spacing_mm(value, what="--model-spacing")
    recorded = config.pixel_spacing_mm
    if recorded is not None and not same_spacing(recorded, value):
        raise InputError(
            f"{checkpoint_path}: the checkpoint was trained at {recorded:g} mm; "
            f"--model-spacing {value:g} contradicts it"
        )
    return dataclasses.replace(config, pixel_spacing_mm=recorded if recorded is not None else value)


def load_source(paths: Sequence[Path], *, model_spacing_mm: float | None = None) -> ExportSource:
    """Load one checkpoint or an ensemble of several (refused, one line, when they differ in
    architecture, patch size, classes, preprocessing or spacing, or when a file repeats).

    Raises:
        InputError: unreadable checkpoint, a model the export cannot build, mismatched members.
    """
    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.models.ensemble import check_members, tile_model_of

    paths = tuple(Path(p) for p in paths)
    if not paths:
        raise InputError("mc-export needs a --checkpoint")
    repeated = sorted({str(p) for p in paths if sum(q.resolve() == p.resolve() for q in paths) > 1})
    if repeated:
        raise InputError(f"{repeated[0]}: given more than once; an ensemble takes each checkpoint once")
    checkpoints = [load_checkpoint(p) for p in paths]
    for path, checkpoint in zip(paths, checkpoints):
        checkpoint.config = with_spacing(checkpoint.config, model_spacing_mm, path)
    config = check_members(checkpoints)
    try:
        model = tile_model_of(checkpoints)
    except (ValueError, NotImplementedError) as exc:
        raise InputError(f"{paths[0]}: {exc}") from exc
    return ExportSource(paths=paths, checkpoints=tuple(checkpoints), config=config, tile_model=model)
