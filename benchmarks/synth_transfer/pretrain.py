"""Synthetic pretraining as an intermediate domain: fine-tune on 50 or 100 real patches.

Seed S5's double transfer learning with mc-synth standing in for ImageNet: a model trained only
on synthetic patches (a row of ``run.py``) initialises ``mc-train --init`` on a small stratified
subset of the real training fold; the same subset is also trained from scratch. Checkpoints are
chosen on 120 other patches of the training fold (the learning curves plotted are their AUC per
epoch);
the held-out fold scores each final model once.

    nice -n 10 python benchmarks/synth_transfer/pretrain.py ../shared/data/real60_train WORK CHECKPOINT

appends to ``benchmarks/synth_transfer/pretrain.csv`` and writes ``pretrain_curves.png``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from real60_split import materialise, split  # the one fixed held-out fold
from run import PATCH, _tool

SIZES = (50, 100)
VAL = 120
RECIPE = [
    "--arch",
    "smallcnn",
    "--patch-size",
    str(PATCH),
    "--epochs",
    "8",
    "--batch-size",
    "16",
    "--lr",
    "1e-3",
    "--weight-decay",
    "1e-4",
    "--patience",
    "0",
    "--positive-class",
    "1",
    "--seed",
    "0",
]
RESULTS = HERE / "pretrain.csv"


def subsets(train: list[tuple[Path, str]], size: int, out: Path) -> tuple[Path, Path]:
    """A stratified random ``size`` of the training fold, and ``VAL`` others of it for validation
    (the checkpoint choice and the learning curve), as link trees."""
    rng = np.random.default_rng(size)
    picked: dict[str, list[tuple[Path, str]]] = {"small": [], "rest": []}
    for cls in ("0", "1"):
        paths = sorted(p for p, k in train if k == cls)
        order = rng.permutation(len(paths))
        picked["small"] += [(paths[i], cls) for i in order[: size // 2]]
        picked["rest"] += [(paths[i], cls) for i in order[size // 2 : size // 2 + VAL // 2]]
    materialise(picked, out)
    return out / "small", out / "rest"


def main() -> None:
    real_dir, work, checkpoint = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    parts = split(real_dir)
    materialise(parts, work / "real60_split")
    curves = {}
    for size in SIZES:
        small, rest = subsets(parts["train"], size, work / f"subset{size}")
        for init in ("scratch", "synthetic"):
            run = work / f"ft{size}_{init}"
            extra = ["--init", str(checkpoint)] if init == "synthetic" else []
            subprocess.run(
                _tool("mc-train") + [str(small), "--out", str(run), "--val-dir", str(rest), *RECIPE, *extra],
                check=True,
            )
            subprocess.run(
                _tool("mc-eval")
                + [
                    str(run / "checkpoint.pt"),
                    str(work / "real60_split" / "test"),
                    "--positive-class",
                    "1",
                    "--metrics",
                    str(run / "test.json"),
                    "--quiet",
                ],
                check=True,
            )
            m = json.loads((run / "test.json").read_text())
            with open(run / "history.csv", newline="") as f:
                curves[(size, init)] = [float(r["val_auc"]) for r in csv.DictReader(f)]
            row = {
                "real_patches": size,
                "init": init,
                "test_auc": round(m["auc"], 3),
                "test_accuracy": round(m["accuracy"], 3),
                "best_val_auc": round(max(curves[(size, init)]), 3),
            }
            new = not RESULTS.exists()
            with open(RESULTS, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(row))
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print(row, flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for (size, init), values in curves.items():
        ax.plot(
            range(1, len(values) + 1),
            values,
            ("-" if init == "synthetic" else "--"),
            label=f"{size} real, {init}",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("AUC, 120 other training-fold patches")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "pretrain_curves.png", dpi=90)


if __name__ == "__main__":
    main()
