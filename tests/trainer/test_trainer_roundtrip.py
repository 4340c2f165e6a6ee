"""Round trips on tiny data: train, evaluate, resume, cross-validate, sweep, mine hard negatives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from microcalc.models.checkpoint import load_checkpoint
from microcalc.trainer.metrics import METRIC_KEYS
from tests.conftest import run_cli
from tests.trainer.stand_in import read_csv, write_patches

TRAIN = "microcalc.trainer.cli_train:cli"
EVAL = "microcalc.trainer.cli_eval:cli"
SMALL = ["--arch", "smallcnn", "--patch-size", "32", "--batch-size", "8", "--lr", "2e-3", "--quiet"]


@pytest.fixture(scope="module")
def run2(tiny_patches: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs of smallcnn on the tiny set."""
    out = tmp_path_factory.mktemp("run2")
    run_cli(TRAIN, [str(tiny_patches), "--out", str(out), "--epochs", "2", *SMALL])
    return out


def test_run_folder_contents(run2):
    for name in ("checkpoint.pt", "last.pt", "metrics.json", "history.csv", "roc.png", "curves.png"):
        assert (run2 / name).stat().st_size > 0, name
    metrics = json.loads((run2 / "metrics.json").read_text())
    assert set(METRIC_KEYS) | {"confusion_matrix", "threshold"} <= set(metrics)
    assert sum(map(sum, metrics["confusion_matrix"])) == metrics["n_val"] == 5  # round(20% of 24), stratified
    rows = read_csv(run2 / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    ckpt = load_checkpoint(run2 / "checkpoint.pt")
    assert ckpt.config.arch == "smallcnn" and ckpt.config.classes == ("cluster", "normal")
    assert ckpt.config.positive_index == 0 and ckpt.config.patch_size == 32
    assert ckpt.config.preprocessing.scaling == "per_tile_max" and ckpt.config.preprocessing.channels == 3
    assert ckpt.metrics["epoch"] == metrics["best_epoch"]
    # patch-level operating points chosen on the validation split, recorded in checkpoint and metrics
    points = ckpt.operating_points
    assert points.default == "youden" and points.names == ["youden", "sens0.95", "spec0.95"]
    assert metrics["operating_point"] == "youden" and set(metrics["operating_points"]) == set(points.names)
    for point in points.points:
        assert metrics["operating_points"][point.name]["threshold"] == point.threshold
    assert metrics["threshold"] == points.get("youden").threshold and "at_0.5" in metrics


def test_eval_checkpoint(run2, tiny_patches, tmp_path):
    preds, mfile = tmp_path / "preds.csv", tmp_path / "m.json"
    run_cli(
        EVAL,
        [
            str(run2 / "checkpoint.pt"),
            str(tiny_patches),
            "--out",
            str(preds),
            "--metrics",
            str(mfile),
            "--quiet",
        ],
    )
    rows = read_csv(preds)
    assert list(rows[0]) == ["path", "label", "p_cluster"] and len(rows) == 24
    assert {r["label"] for r in rows} == {"cluster", "normal"}
    assert all(0.0 <= float(r["p_cluster"]) <= 1.0 for r in rows)
    metrics = json.loads(mfile.read_text())
    assert metrics["n"] == 24 and set(METRIC_KEYS) <= set(metrics)


def test_eval_unlabelled_files_leave_label_empty(run2, tiny_patches, tmp_path):
    preds = tmp_path / "p.csv"
    files = sorted((tiny_patches / "normal").iterdir())[:3]
    run_cli(EVAL, [str(run2 / "checkpoint.pt"), *map(str, files), "--out", str(preds), "--quiet"])
    rows = read_csv(preds)
    assert [r["label"] for r in rows] == ["", "", ""] and [r["path"] for r in rows] == list(map(str, files))


def test_resume_continues_where_it_stopped(tiny_patches, tmp_path):
    out = tmp_path / "run"
    run_cli(TRAIN, [str(tiny_patches), "--out", str(out), "--epochs", "1", "--schedule", "constant", *SMALL])
    first = load_checkpoint(out / "last.pt")
    run_cli(
        TRAIN,
        [str(tiny_patches), "--out", str(out), "--epochs", "2", "--schedule", "constant", "--resume", *SMALL],
    )
    rows = read_csv(out / "history.csv")
    assert [int(r["epoch"]) for r in rows] == [1, 2]  # epoch 1 kept, only epoch 2 trained
    assert rows[0]["train_loss"] == str(first.training_state["history"][0]["train_loss"])
    last = load_checkpoint(out / "last.pt")
    assert last.training_state["epoch"] == 2 and last.weights_sha256 != first.weights_sha256


def test_folds(tiny_patches, tmp_path):
    out = tmp_path / "cv"
    run_cli(TRAIN, [str(tiny_patches), "--out", str(out), "--epochs", "1", "--folds", "2", *SMALL])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["folds"] == 2 and len(metrics["per_fold"]) == 2
    for key in ("accuracy", "auc"):
        values = [f[key] for f in metrics["per_fold"]]
        assert metrics[key] == pytest.approx(sum(values) / 2) and key in metrics["std"]
    assert sum(map(sum, metrics["confusion_matrix"])) == 24  # every patch validated once
    assert (out / "checkpoint.pt").is_file() and (out / "fold_0" / "history.csv").is_file()


def test_sweep(tiny_patches, tmp_path):
    out = tmp_path / "sweep"
    run_cli(
        TRAIN,
        [
            str(tiny_patches),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--sweep-lr",
            "1e-3,2e-3",
            "--sweep-wd",
            "0",
            *SMALL,
        ],
    )
    rows = read_csv(out / "sweep.csv")
    assert [(float(r["lr"]), float(r["weight_decay"])) for r in rows] == [(1e-3, 0.0), (2e-3, 0.0)]
    table = (out / "sweep.md").read_text().splitlines()
    assert table[0].startswith("| lr | weight_decay | accuracy") and len(table) == 4
    metrics = json.loads((out / "metrics.json").read_text())
    best = metrics["best_run"]
    assert best in {r["run"] for r in rows}
    assert (
        load_checkpoint(out / "checkpoint.pt").weights_sha256
        == load_checkpoint(out / best / "checkpoint.pt").weights_sha256
    )


def test_hard_negatives(tiny_patches, tmp_path):
    pool = write_patches(tmp_path / "pool", n_per_class=6, size=32, seed=9)  # cluster-like negatives: FPs
    out = tmp_path / "hn"
    run_cli(
        TRAIN,
        [
            str(tiny_patches),
            "--out",
            str(out),
            "--epochs",
            "2",
            "--hard-negatives",
            "1",
            "--negative-pool",
            str(pool),
            "--per-round",
            "4",
            *SMALL,
        ],
    )
    metrics = json.loads((out / "metrics.json").read_text())
    (log,) = metrics["hard_negative_rounds"]
    assert log["pool"] == 12 and log["added"] == 4  # the 4 highest-scoring, false positives at 0.5 or not
    assert log["lowest_added_score"] <= log["top_score"]
    before = json.loads((out / "round_0" / "metrics.json").read_text())["n_train"]
    assert metrics["n_train"] == before + 4 and (out / "round_1" / "checkpoint.pt").is_file()


def test_choose_negatives_highest_first_never_twice():
    from microcalc.trainer.mining import choose_negatives

    scores = np.array([0.2, 0.9, 0.05, 0.6, 0.3])
    used = [False, True, False, False, False]
    assert choose_negatives(scores, used, threshold=0.5, per_round=3) == [3, 4, 0]  # below 0.5 too
    assert choose_negatives(scores, used, threshold=0.5, per_round=0) == [3]  # every unused FP at 0.5
    assert choose_negatives(scores, [True] * 5, threshold=0.5, per_round=2) == []


def test_hard_negatives_from_whole_normal_mammograms(tiny_patches, tmp_path):
    from microcalc.synth.dicom_writer import DicomSpec, write_mammogram_dicom
    from microcalc.synth.phantom import make_phantom

    pool = tmp_path / "pool"
    pool.mkdir()
    phantom = make_phantom(seed=5, rows=256, cols=256, clusters=0, isolated=2)
    write_mammogram_dicom(pool / "normal.dcm", phantom.stored, DicomSpec.from_truth(phantom.truth))
    out = tmp_path / "hn"
    run_cli(
        TRAIN,
        [
            str(tiny_patches),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--hard-negatives",
            "1",
            "--negative-pool",
            str(pool),
            "--per-round",
            "3",
            *SMALL,
        ],
    )
    tiles = sorted((out / "pool_tiles" / "normal").glob("*.png"))
    (log,) = json.loads((out / "metrics.json").read_text())["hard_negative_rounds"]
    assert len(tiles) > 4 and log["pool"] == len(tiles)  # the mammogram became its breast tiles
    assert all(Image.open(t).size == (32, 32) for t in tiles)
    assert log["added"] == 3


def test_init_strict_and_freeze_bit_identical(tiny_patches, tmp_path):
    """A torchvision-format ImageNet-style file (1000 classes) loads strictly; frozen layers do not move."""
    from microcalc.models import create_model

    torch.manual_seed(5)
    imagenet = create_model("resnet18", num_classes=1000).state_dict()
    torch.save(imagenet, tmp_path / "resnet18_imagenet.pth")
    out = tmp_path / "ft"
    run_cli(
        TRAIN,
        [
            str(tiny_patches),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--arch",
            "resnet18",
            "--patch-size",
            "32",
            "--batch-size",
            "8",
            "--lr",
            "1e-2",
            "--init",
            str(tmp_path / "resnet18_imagenet.pth"),
            "--freeze",
            "partial",
            "--quiet",
            "--patience",
            "0",
        ],
    )
    trained = load_checkpoint(out / "last.pt").state_dict
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["init"]["source"] == "torchvision" and metrics["init"]["head"] == "reinitialised"
    assert trained["fc.weight"].shape == (2, 512)
    for key in (
        "conv1.weight",
        "bn1.weight",
        "bn1.running_mean",
        "layer2.1.conv2.weight",
        "layer2.1.bn2.running_var",
    ):
        assert torch.equal(trained[key], imagenet[key]), key  # frozen: bit-identical after training steps
    for key in ("layer3.0.conv1.weight", "layer4.1.conv2.weight"):
        assert not torch.equal(trained[key], imagenet[key]), key  # trained layers moved


def test_init_from_wrong_architecture(tiny_patches, tmp_path, monkeypatch, capsys):
    import sys

    from microcalc.models import create_model
    from microcalc.trainer.cli_train import main

    torch.save(create_model("resnet18", num_classes=1000).state_dict(), tmp_path / "r18.pth")
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "mc-train",
            str(tiny_patches),
            "--out",
            str(tmp_path / "x"),
            "--init",
            str(tmp_path / "r18.pth"),
            *SMALL,
        ],
    )
    with pytest.raises(SystemExit):
        main()
    err = capsys.readouterr().err.strip()
    assert "--init weights are for resnet18, but --arch is smallcnn" in err and "\n" not in err
