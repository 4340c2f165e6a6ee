"""Checkpoint I/O: our self-describing format, and readers for the published and torchvision ones.

Our format is a ``torch.save`` dict::

    {"format": "microcalc-checkpoint", "version": 1,
     "config": ModelConfig.to_dict(), "state_dict": {...}, "weights_sha256": "...",
     "metrics": {...}, "operating_points": OperatingPoints.to_dict() (optional),
     "training_state": {...} (optional, for --resume)}

Foreign formats, detected from the content:

* published Microcalc-Detect (``PRETRAINED_RESNET101_ADAM_LR5e-06_WD0.001_BS8.tar``): a dict with
  ``state_dict`` for torchvision's resnet101 with a 2-output ``fc``; class 0 = cluster.
* a plain torchvision state dict (e.g. ImageNet weights), architecture inferred from the keys.

A checkpoint is untrusted input: everything is read with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from microcalc.atomic import atomic_path
from microcalc.errors import InputError
from microcalc.model_config import ModelConfig, published_config
from microcalc.models.registry import create_model, list_models
from microcalc.operating_points import OperatingPoints
from microcalc.preprocessing import PUBLISHED

FORMAT = "microcalc-checkpoint"
VERSION = 1


@dataclass
class Checkpoint:
    """A loaded checkpoint: config, weights and whatever training recorded."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    source: str  # "microcalc", "published" or "torchvision"
    path: Path | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    training_state: dict[str, Any] | None = None
    operating_points: OperatingPoints = field(default_factory=OperatingPoints)

    @property
    def weights_sha256(self) -> str:
        return weights_digest(self.state_dict)

    def build_model(self) -> nn.Module:
        """The model with these weights loaded strictly, in eval mode, on the CPU."""
        model = create_model(
            self.config.arch, num_classes=self.config.num_classes, in_chans=self.config.preprocessing.channels
        )
        model.load_state_dict(self.state_dict, strict=True)
        return model.eval()


def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """SHA-256 over parameter names, shapes, dtypes and bytes, in sorted key order.

    Independent of pickling details, so the same weights give the same digest in any file.
    """
    h = hashlib.sha256()
    for key in sorted(state_dict):
        t = state_dict[key].detach().cpu().contiguous()
        h.update(f"{key}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def save_checkpoint(
    path: str | os.PathLike,
    *,
    state_dict: dict[str, torch.Tensor],
    config: ModelConfig,
    metrics: dict[str, Any] | None = None,
    training_state: dict[str, Any] | None = None,
    operating_points: OperatingPoints | None = None,
) -> str:
    """Write our format atomically (temporary file, then rename); returns the weights digest."""
    path = Path(path)
    weights = {k: v.detach().cpu() for k, v in state_dict.items()}
    digest = weights_digest(weights)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "config": config.to_dict(),
        "state_dict": weights,
        "weights_sha256": digest,
        "metrics": metrics or {},
    }
    if operating_points:
        payload["operating_points"] = operating_points.to_dict()
    if training_state is not None:
        payload["training_state"] = training_state
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return digest


def _strip_prefix(state_dict: dict[str, Any]) -> dict[str, torch.Tensor]:
    """Drop the ``module.`` prefix DataParallel/DDP adds, and reject non-tensor entries."""
    out = {}
    for key, value in state_dict.items():
        if not isinstance(value, torch.Tensor):
            raise InputError(f"state dict entry {key!r} is a {type(value).__name__}, not a tensor")
        out[key.removeprefix("module.")] = value
    return out


def infer_architecture(state_dict: dict[str, torch.Tensor]) -> tuple[str, int, int]:
    """Find the registered architecture whose keys and shapes match ``state_dict``.

    Returns ``(arch, num_classes, in_chans)``. Only the classifier's output size and the first
    convolution's input channels may differ from the template.
    """
    keys = set(state_dict)
    for name in list_models():
        with torch.device("meta"):
            template = create_model(name, num_classes=2).state_dict()
        if set(template) != keys:
            continue
        head_key = _last_linear_weight(template)
        first_key = next(iter(template))
        num_classes, in_chans = 2, 3
        ok = True
        for key, ref in template.items():
            shape = tuple(state_dict[key].shape)
            if shape == tuple(ref.shape):
                continue
            if key in (head_key, head_key[: -len("weight")] + "bias") and shape[1:] == tuple(ref.shape[1:]):
                num_classes = shape[0]
            elif key == first_key and shape[0] == ref.shape[0] and shape[2:] == tuple(ref.shape[2:]):
                in_chans = shape[1]
            else:
                ok = False
                break
        if ok:
            return name, num_classes, in_chans
    raise InputError("the weights match no known architecture (" + ", ".join(list_models()) + ")")


def _last_linear_weight(template: dict[str, torch.Tensor]) -> str:
    return [k for k, v in template.items() if k.endswith(".weight") and v.ndim == 2][-1]


def load_checkpoint(path: str | os.PathLike, *, positive_index: int | None = None) -> Checkpoint:
    """Load any supported checkpoint; the config is read from the file or inferred.

    Args:
        path: our checkpoint, a published-format ``.tar``, or a plain torchvision state dict.
        positive_index: override the cluster-class index for foreign files whose class
            semantics the file cannot tell (plain state dicts).

    Raises:
        InputError: missing, unreadable, corrupt or unrecognised file (one line, names the file).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such checkpoint file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file; all mean "not a checkpoint"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({first[:160]})") from exc
    if not isinstance(raw, dict):
        raise InputError(f"{path}: not a checkpoint (a {type(raw).__name__}, expected a dict)")
    try:
        return _from_payload(raw, path, positive_index)
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc


def _from_payload(raw: dict, path: Path, positive_index: int | None) -> Checkpoint:
    if raw.get("format") == FORMAT:
        if int(raw.get("version", 0)) > VERSION:
            raise InputError(f"checkpoint format version {raw['version']} is newer than this microcalc reads")
        try:
            config = ModelConfig.from_dict(raw["config"])
            state_dict = _strip_prefix(raw["state_dict"])
            points = OperatingPoints.from_dict(raw.get("operating_points"))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed microcalc checkpoint ({exc})") from exc
        if weights_digest(state_dict) != raw.get("weights_sha256"):
            raise InputError("weights do not match their recorded SHA-256 (corrupt or altered file)")
        if positive_index is not None and positive_index != config.positive_index:
            config = ModelConfig.from_dict({**config.to_dict(), "positive_index": positive_index})
        return Checkpoint(
            config=config,
            state_dict=state_dict,
            source="microcalc",
            path=path,
            metrics=dict(raw.get("metrics", {})),
            training_state=raw.get("training_state"),
            operating_points=points,
        )
    if isinstance(raw.get("state_dict"), dict):
        state_dict = _strip_prefix(raw["state_dict"])
        arch, num_classes, in_chans = infer_architecture(state_dict)
        if arch == "resnet101" and num_classes == 2 and in_chans == 3:
            config = published_config()
            if positive_index is not None:
                config = ModelConfig.from_dict({**config.to_dict(), "positive_index": positive_index})
            return Checkpoint(config=config, state_dict=state_dict, source="published", path=path)
        return _foreign(state_dict, arch, num_classes, in_chans, path, positive_index, source="published")
    if raw and all(isinstance(v, torch.Tensor) for v in raw.values()):
        state_dict = _strip_prefix(raw)
        arch, num_classes, in_chans = infer_architecture(state_dict)
        return _foreign(state_dict, arch, num_classes, in_chans, path, positive_index, source="torchvision")
    raise InputError(
        "unrecognised checkpoint layout (expected a microcalc checkpoint, a dict with "
        "'state_dict', or a torchvision state dict)"
    )


def _foreign(
    state_dict: dict[str, torch.Tensor],
    arch: str,
    num_classes: int,
    in_chans: int,
    path: Path,
    positive_index: int | None,
    *,
    source: str,
) -> Checkpoint:
    classes = (
        ("cluster", "no_cluster") if num_classes == 2 else tuple(f"class_{i}" for i in range(num_classes))
    )
    config = ModelConfig(
        arch=arch,
        classes=classes,
        positive_index=positive_index or 0,
        patch_size=published_config().patch_size,
        preprocessing=type(PUBLISHED)(scaling=PUBLISHED.scaling, channels=in_chans),
    )
    return Checkpoint(config=config, state_dict=state_dict, source=source, path=path)
