"""The fast real-data guard: mc-train on a small part of ``../shared/data/real60_train`` must learn.

Issue 21 saw training on the real 60x60 patches fall from AUC 0.987 to 0.762 without a failing
test. This check trains the small CNN for a few epochs on a class-balanced part of the project's
training fold (``benchmarks/synth_transfer/real60_split.py``) and scores the whole held-out fold
with mc-eval. It fails when training collapses (chance-level ranking, one class for everything),
not when a score moves by a few hundredths: the bound sits far below what a working trainer
reaches (the spread measured over seeds and host modes is in the test's docstring).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

REAL60 = Path(__file__).resolve().parents[3] / "shared" / "data" / "real60_train"
TRAIN_PATCHES = 320  # class-balanced, from the training fold
SEED_OF_SUBSET = 0  # the subset is fixed; the training seed varies in the measurement
RECIPE = [
    "--positive-class",
    "1",
    "--patch-size",
    "60",
    "--arch",
    "smallcnn",
    "--epochs",
    "8",
    "--batch-size",
    "32",
    "--lr",
    "1e-3",
    "--quiet",
]
MIN_HELDOUT_AUC = 0.85
TRAIN = "microcalc.trainer.cli_train:cli"
EVAL = "microcalc.trainer.cli_eval:cli"


def guard_run(work: Path, *, seed: int) -> dict:
    """Train on the subset with ``seed``, score the held-out fold; mc-eval's metrics."""
    from benchmarks.synth_transfer.real60_split import materialise, split
    from microcalc.imaging.patch_sets import balanced_subset

    parts = split(REAL60)
    chosen = balanced_subset([(p, int(c)) for p, c in parts["train"]], TRAIN_PATCHES, seed=SEED_OF_SUBSET)
    materialise({"train": [(p, str(label)) for p, label in chosen], "test": parts["test"]}, work)
    run_cli(
        "microcalc.trainer.cli_train:cli",
        [str(work / "train"), "--out", str(work / "run"), *RECIPE, "--seed", str(seed)],
    )
    run_cli(
        "microcalc.trainer.cli_eval:cli",
        [
            str(work / "run" / "checkpoint.pt"),
            str(work / "test"),
            "--metrics",
            str(work / "eval.json"),
            "--quiet",
        ],
    )
    return json.loads((work / "eval.json").read_text())


@pytest.mark.host_sensitive
def test_training_on_real_patches_does_not_collapse(tmp_path: Path) -> None:
    """Held-out AUC of 8 epochs on 320 real training-fold patches stays at or above 0.85.

    A bound that any working trainer clears by far, not a score near where it happens to fall:
    ``guard_run`` for seeds 0-4 (one thread each, trainer with EMA, BN re-estimation and warm-up
    on by default; Zen 5 host, about 23 CPU-seconds a run) scored the 212 held-out patches
    at AUC 0.945, 0.963, 0.968, 0.958, 0.960 (mean 0.959, sd 0.009), and the same five figures
    to the last digit in the no-AMX mode (README "Testing"; this host's oneDNN runs the same
    float32 kernels under the cap). Issue 21's collapsed run scored 0.762 on held-out patches.
    """
    if not (REAL60 / "1").is_dir():
        pytest.skip(f"real patches not found at {REAL60} (../shared is absent)")
    metrics = guard_run(tmp_path, seed=0)
    assert metrics["auc"] >= MIN_HELDOUT_AUC, metrics
