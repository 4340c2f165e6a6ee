"""``mc-export --triage``: the cascade's cheap first model as ``triage.onnx`` in the bundle.

The triage checkpoint (``mc-train --arch triagecnn``, :mod:`microcalc.models.triage_cnn`) is
exported with its preprocessing, BatchNorm and gray replication folded in, as the main model is
(:mod:`microcalc.models.tile_model`), but with free height and width: uint8 ``tiles [N, 1, H, W]``
in, ``p_cluster [N]`` out (the probability at the tile's most suspicious window). Its parity with
PyTorch is proven at its training size and at the main model's tile size before anything is
written, and its threshold is one of its checkpoint's validation operating points (``--triage-point``;
default ``most-sensitive``: the patch-level point with the lowest threshold, so the highest validation
sensitivity; among points of equal validation sensitivity the lowest threshold is the safest on new
images: on the held-out FROC set, ``youden`` (0.29) and ``spec0.95`` (0.087) both kept 95 of 96
validation cluster patches, but ``youden`` lost one of 24 clusters that ``spec0.95`` kept).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from microcalc.bundle import file_sha256
from microcalc.errors import InputError
from microcalc.export import parity
from microcalc.imaging.spacing import same_spacing
from microcalc.model_config import ModelConfig
from microcalc.models.tile_model import fold_batchnorm, fold_gray_replication, scale_tiles
from microcalc.models.triage_cnn import POSITIVE_INDEX
from microcalc.operating_points import OperatingPoint, OperatingPoints
from microcalc.parity import BOUNDS, compare
from microcalc.tensor_names import INPUT, P_CLUSTER
from microcalc.triage_entry import TRIAGE_FILE, TriageEntry

MOST_SENSITIVE = "most-sensitive"
PARITY_PATCHES = 8


class TriageGraph(nn.Module):
    """uint8 ``[N, 1, H, W]`` -> ``p_cluster [N]``: sigmoid of the best window's positive margin,
    which is the softmax probability ``TriageCNN.forward`` gives (``max`` commutes with the sigmoid)."""

    def __init__(self, network: nn.Module, *, scaling: str) -> None:
        super().__init__()
        self.network = network.eval()
        self.scaling = scaling

    def forward(self, tiles: torch.Tensor) -> torch.Tensor:
        features = self.network.forward_features(scale_tiles(tiles, self.scaling))
        logits = self.network.position_logits(features).flatten(2)
        others = torch.cat([logits[:, :POSITIVE_INDEX], logits[:, POSITIVE_INDEX + 1 :]], dim=1)
        margin = logits[:, POSITIVE_INDEX] - torch.logsumexp(others, dim=1)
        return torch.sigmoid(margin.amax(dim=1))


def _point(points: OperatingPoints, name: str) -> OperatingPoint:
    """The point called ``name``; for ``most-sensitive``, the patch-level point with the lowest threshold."""
    if name != MOST_SENSITIVE:
        return points.get(name)
    patch = [p for p in points.points if p.level == "patch"]
    if not patch:
        raise InputError("the checkpoint has no patch-level operating points (train it with mc-train)")
    return min(patch, key=lambda p: p.threshold)


def export_triage(
    checkpoint_path: Path,
    staging: Path,
    *,
    main: ModelConfig,
    point_name: str,
    opset: int = 17,
    seed: int = 0,
) -> TriageEntry:
    """Write ``staging/triage.onnx`` from a triage checkpoint; returns its manifest entry.

    Raises:
        InputError: not a triage checkpoint, no such operating point, or trained at another spacing
            than the main model.
        parity.ParityError: ONNX Runtime disagrees with PyTorch beyond the FP32 bound.
    """
    import onnx

    from microcalc.export.parity_patches import synthetic_patches
    from microcalc.models.checkpoint import load_checkpoint

    checkpoint = load_checkpoint(checkpoint_path)
    config = checkpoint.config
    network = checkpoint.build_model()
    if not hasattr(network, "position_logits") or config.positive_index != POSITIVE_INDEX:
        raise InputError(
            f"{checkpoint_path}: not a triage model ({config.arch}); train one with mc-train --arch triagecnn"
        )
    spacing, main_spacing = config.pixel_spacing_mm, main.pixel_spacing_mm
    if spacing is not None and main_spacing is not None and not same_spacing(spacing, main_spacing):
        raise InputError(
            f"{checkpoint_path}: the triage model was trained at {spacing:g} mm, the main model at "
            f"{main_spacing:g} mm; train it on patches at the main model's spacing"
        )
    try:
        point = _point(checkpoint.operating_points, point_name)
    except InputError as exc:
        raise InputError(f"{checkpoint_path}: {exc} (--triage-point)") from exc
    fold_batchnorm(network)
    fold_gray_replication(network, config.preprocessing.channels)
    path = staging / TRIAGE_FILE
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic; the graph is checked below
        torch.onnx.export(
            TriageGraph(network, scaling=config.preprocessing.scaling),
            (torch.zeros(2, 1, config.patch_size, config.patch_size, dtype=torch.uint8),),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT],
            output_names=[P_CLUSTER],
            dynamic_axes={INPUT: {0: "N", 2: "H", 3: "W"}, P_CLUSTER: {0: "N"}},
            do_constant_folding=True,
        )
    onnx.checker.check_model(str(path), full_check=True)
    reference, verdicts = parity.torch_reference(checkpoint), {}
    with parity.onnx_runner(path, outputs=(P_CLUSTER,)) as candidate:
        for size in sorted({config.patch_size, main.patch_size}):
            tiles = synthetic_patches(PARITY_PATCHES, size, seed=seed).tiles
            verdicts[size] = compare(
                reference=parity.batched(reference, tiles, batch=4),
                candidate=parity.batched(candidate, tiles, batch=4),
                threshold=point.threshold,
                bounds=BOUNDS["fp32"],
            )
    for size, verdict in verdicts.items():
        if not verdict.passed:
            raise parity.ParityError(
                f"triage: parity with PyTorch failed at {size} px ({'; '.join(verdict.failures)}); "
                "nothing was written"
            )

    return TriageEntry(
        file=TRIAGE_FILE,
        sha256=file_sha256(path),
        point=point,
        arch=config.arch,
        patch_size=config.patch_size,
        pixel_spacing_mm=spacing,
        source_checkpoint={"path": str(checkpoint_path.resolve()), "sha256": file_sha256(checkpoint_path)},
        parity={f"{size}px": verdict.to_dict() for size, verdict in verdicts.items()},
    )
