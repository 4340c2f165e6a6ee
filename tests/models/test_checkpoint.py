"""Checkpoint I/O: our format, the published format, plain torchvision state dicts, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from microcalc.errors import InputError
from microcalc.model_config import ModelConfig
from microcalc.models import create_model
from microcalc.models.checkpoint import infer_architecture, load_checkpoint, save_checkpoint, weights_digest
from microcalc.preprocessing import PUBLISHED, Preprocessing


def _published_file(tmp_path: Path, seed: int = 0) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(seed)
    model = create_model("resnet101", num_classes=2).eval()
    path = tmp_path / "PRETRAINED_RESNET101_ADAM_LR5e-06_WD0.001_BS8.tar"
    torch.save({"state_dict": model.state_dict(), "epoch": 12}, path)
    return path, model


def test_our_format_round_trip_keeps_config_and_metrics(tmp_path: Path) -> None:
    model = create_model("smallcnn", num_classes=2)
    config = ModelConfig(
        arch="smallcnn",
        classes=("normal", "cluster"),
        positive_index=1,
        patch_size=128,
        preprocessing=Preprocessing("fixed_255", 3),
        threshold=0.4,
    )
    digest = save_checkpoint(
        tmp_path / "c.pt", state_dict=model.state_dict(), config=config, metrics={"auc": 0.97}
    )
    ckpt = load_checkpoint(tmp_path / "c.pt")
    assert ckpt.source == "microcalc"
    assert ckpt.config == config
    assert ckpt.metrics == {"auc": 0.97}
    assert ckpt.weights_sha256 == digest == weights_digest(model.state_dict())
    assert list(tmp_path.iterdir()) == [tmp_path / "c.pt"]  # no temporary file left behind


def test_published_format_is_recognised_and_loads_strictly(tmp_path: Path) -> None:
    path, model = _published_file(tmp_path)
    ckpt = load_checkpoint(path)
    assert ckpt.source == "published"
    assert ckpt.config.arch == "resnet101"
    assert ckpt.config.classes[ckpt.config.positive_index] == "cluster"
    assert ckpt.config.positive_index == 0 and ckpt.config.patch_size == 674
    assert ckpt.config.preprocessing == PUBLISHED
    rebuilt = ckpt.build_model()  # strict=True inside
    x = torch.rand(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(x), model(x), rtol=0, atol=0)


def test_plain_torchvision_state_dict_is_inferred(tmp_path: Path) -> None:
    torch.save(create_model("resnet18", num_classes=1000).state_dict(), tmp_path / "resnet18.pth")
    ckpt = load_checkpoint(tmp_path / "resnet18.pth")
    assert ckpt.source == "torchvision"
    assert (ckpt.config.arch, ckpt.config.num_classes) == ("resnet18", 1000)
    ckpt.build_model()


def test_dataparallel_prefix_is_stripped() -> None:
    state = {"module." + k: v for k, v in create_model("smallcnn", num_classes=4).state_dict().items()}
    from microcalc.models.checkpoint import _strip_prefix

    assert infer_architecture(_strip_prefix(state)) == ("smallcnn", 4, 3)


def test_one_channel_stem_is_inferred() -> None:
    state = create_model("resnet18", num_classes=2, in_chans=1).state_dict()
    assert infer_architecture(state) == ("resnet18", 2, 1)


@pytest.mark.parametrize(
    "content,match",
    [
        (b"", "not a readable PyTorch checkpoint"),  # empty file
        (b"this is not a checkpoint at all", "not a readable PyTorch checkpoint"),  # text
    ],
)
def test_corrupt_files_give_one_line_errors(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such checkpoint file"):
        load_checkpoint(tmp_path / "nope.pt")


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    model = create_model("smallcnn", num_classes=2)
    cfg = ModelConfig(arch="smallcnn", classes=("cluster", "normal"), positive_index=0, patch_size=64)
    save_checkpoint(tmp_path / "c.pt", state_dict=model.state_dict(), config=cfg)
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "c.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "c.pt")


def test_altered_weights_fail_their_digest(tmp_path: Path) -> None:
    model = create_model("smallcnn", num_classes=2)
    cfg = ModelConfig(arch="smallcnn", classes=("cluster", "normal"), positive_index=0, patch_size=64)
    save_checkpoint(tmp_path / "c.pt", state_dict=model.state_dict(), config=cfg)
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    raw["state_dict"]["features.0.weight"] += 1.0
    torch.save(raw, tmp_path / "c.pt")
    with pytest.raises(InputError, match="SHA-256"):
        load_checkpoint(tmp_path / "c.pt")


def test_pickled_code_is_refused(tmp_path: Path) -> None:
    # weights_only=True: an object that would run code on load is not unpickled.
    torch.save({"state_dict": {"x": np.dtype("float32")}, "hook": Path("/tmp")}, tmp_path / "evil.pt")
    with pytest.raises(InputError, match="not a readable PyTorch checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")


def test_unknown_architecture_weights(tmp_path: Path) -> None:
    torch.save({"state_dict": {"weird.weight": torch.zeros(3, 3)}}, tmp_path / "w.tar")
    with pytest.raises(InputError, match="match no known architecture"):
        load_checkpoint(tmp_path / "w.tar")
