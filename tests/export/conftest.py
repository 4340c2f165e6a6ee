"""Fixtures of the export tests: a small random checkpoint and a labelled patch folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import save_checkpoint

SIZE = 64


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A random smallcnn checkpoint with a confident head, and a labelled patch folder."""
    root = tmp_path_factory.mktemp("small")
    torch.manual_seed(0)
    model = create_model("smallcnn", num_classes=2)
    with torch.no_grad():
        model.classifier[-1].weight.mul_(20.0)
    config = ModelConfig(
        arch="smallcnn", classes=("cluster", "no_cluster"), positive_index=0, patch_size=SIZE
    )
    save_checkpoint(root / "checkpoint.pt", state_dict=model.state_dict(), config=config)
    rng = np.random.default_rng(0)
    for name in ("cluster", "normal"):
        (root / "patches" / name).mkdir(parents=True)
        for i in range(12):
            Image.fromarray(rng.integers(0, 256, (SIZE, SIZE), dtype=np.uint8)).save(
                root / "patches" / name / f"{i}.png"
            )
    return root / "checkpoint.pt", root / "patches"
