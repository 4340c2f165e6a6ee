"""An ensemble as one graph: several checkpoints of one architecture, their outputs averaged.

Averaging the cluster probabilities of models trained with different seeds (the double-transfer-
learning paper averages several models) lowers the variance a single seed carries. Built as one
``nn.Module`` with the :class:`~microcalc.models.tile_model.TileClassifier` I/O (uint8 ``tiles`` in,
``p_cluster [N]`` and ``cam [N, h, w]`` out), it exports to one ONNX graph that every backend,
parity check and scanner runs unchanged. Members must agree on everything the graph's contract
and the scanner depend on (:func:`check_members`); their CAMs then share one feature grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from microcalc.errors import InputError
from microcalc.model_config import ModelConfig
from microcalc.models.checkpoint import Checkpoint
from microcalc.models.tile_model import TileClassifier


def mean_of(outputs: Sequence[torch.Tensor]) -> torch.Tensor:
    """``(o_1 + ... + o_k) / k``: summed in member order, then one division, so the ONNX graph (Add,
    Div) gives exactly what numpy gives for the same expression on the members' outputs."""
    total = outputs[0]
    for out in outputs[1:]:
        total = total + out
    return total / float(len(outputs))


def _contract(config: ModelConfig) -> tuple:
    return (
        config.arch,
        config.patch_size,
        tuple(config.classes),
        config.positive_index,
        config.preprocessing.to_dict(),
        config.pixel_spacing_mm,
    )


def _describe(config: ModelConfig) -> str:
    spacing = "no spacing" if config.pixel_spacing_mm is None else f"{config.pixel_spacing_mm:g} mm"
    return (
        f"{config.arch} at {config.patch_size} px ({config.preprocessing.scaling}, classes "
        f"{list(config.classes)}, positive {config.positive_class!r}, {spacing})"
    )


def check_members(checkpoints: Sequence[Checkpoint]) -> ModelConfig:
    """The config every member shares; ``InputError`` (one line, naming the member) when one differs
    in architecture, patch size, classes, positive class, preprocessing or pixel spacing."""
    if not checkpoints:
        raise InputError("an ensemble needs at least one checkpoint")
    first = checkpoints[0]
    for other in checkpoints[1:]:
        if _contract(other.config) != _contract(first.config):
            raise InputError(
                f"{other.path}: {_describe(other.config)} cannot join an ensemble with {first.path}: "
                f"{_describe(first.config)}; members must share architecture, patch size, classes, "
                "preprocessing and pixel spacing"
            )
    return first.config


class EnsembleTileClassifier(nn.Module):
    """uint8 tiles -> the mean ``p_cluster`` and mean ``cam`` of its members (all TileClassifiers)."""

    def __init__(self, members: Sequence[TileClassifier]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        grids = {(m.patch_size, m.scaling, m.feature_hw) for m in members}
        if len(grids) != 1:
            raise ValueError(f"members differ in patch size, scaling or feature map: {sorted(grids)}")
        self.members = nn.ModuleList(members).eval()
        self.patch_size = members[0].patch_size
        self.feature_hw = members[0].feature_hw

    @classmethod
    def from_checkpoints(cls, checkpoints: Sequence[Checkpoint]) -> EnsembleTileClassifier:
        """One TileClassifier per checkpoint (see :func:`check_members` for what they must share)."""
        check_members(checkpoints)
        return cls([TileClassifier.from_checkpoint(c) for c in checkpoints]).eval()

    def forward(self, tiles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        outputs = [member(tiles) for member in self.members]
        return mean_of([p for p, _ in outputs]), mean_of([cam for _, cam in outputs])


def tile_model_of(checkpoints: Sequence[Checkpoint]) -> TileClassifier | EnsembleTileClassifier:
    """The graph of one checkpoint, or of several as an ensemble: what mc-export writes and the torch
    backend runs."""
    if len(checkpoints) == 1:
        return TileClassifier.from_checkpoint(checkpoints[0])
    return EnsembleTileClassifier.from_checkpoints(checkpoints)
