"""Engine fixtures; the fake backend and test images live in ``engine_fakes``."""

from __future__ import annotations

from pathlib import Path

import pytest
from engine_fakes import TINY_PATCH, TINY_THRESHOLD, MeanBackend

from microcalc.bundle import Variant, file_sha256, write_manifest
from microcalc.engine import cli as scan_cli
from microcalc.model_config import ModelConfig


@pytest.fixture
def mean_backend():
    """Factory: an active MeanBackend for a patch size; deactivated after the test."""
    made: list[MeanBackend] = []

    def make(patch: int = 64, max_batch: int = 4) -> MeanBackend:
        backend = MeanBackend(patch=patch, max_batch=max_batch)
        backend.activate()
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.deactivate()


@pytest.fixture
def tiny_bundle(tmp_path: Path) -> Path:
    """A bundle manifest for a 64-px model; the model file is a placeholder run by MeanBackend."""
    root = tmp_path / "bundle"
    root.mkdir()
    (root / "model.onnx").write_bytes(b"placeholder")
    variant = Variant(name="fp32", format="onnx", precision="fp32", file="model.onnx",
                      sha256=file_sha256(root / "model.onnx"))
    config = ModelConfig(arch="smallcnn", classes=("cluster", "no_cluster"), positive_index=0, patch_size=TINY_PATCH,
                         threshold=TINY_THRESHOLD)
    write_manifest(root, config=config, source_checkpoint={"path": "x.pt", "sha256": "0"},
                   input_spec={"name": "tiles", "dtype": "uint8", "shape": ["N", 1, TINY_PATCH, TINY_PATCH]}, outputs=[],
                   variants=[variant], created="2024-01-01T00:00:00", microcalc_version="0.1.0")
    return root


@pytest.fixture
def fake_backend(monkeypatch):
    """mc-scan's backend choice replaced by the known predictor."""
    def open_backend(name, precision, bundle, *, max_batch):
        variant = bundle.variant(precision="fp32")
        model = {"name": variant.name, "precision": "fp32", "sha256": variant.sha256}
        return MeanBackend(patch=TINY_PATCH, max_batch=max_batch), model, "mean fp32 (test predictor)"

    monkeypatch.setattr(scan_cli, "open_backend", open_backend)
