"""Synthetic pretraining as an intermediate domain: fine-tune on 50 or 100 real patches.

Seed S5's double transfer learning with mc-synth standing in for ImageNet: a model trained only
on synthetic patches (a row of ``run.py``) initialises ``mc-train --init`` on a small stratified
subset of the real training fold; the same subset is also trained from scratch. Checkpoints are
chosen on 120 other patches of the training fold (the learning curves plotted are their AUC per
epoch);
the held-out fold scores each final model once. Every fine-tune runs with each ``--seeds``
training seed (default 0 1 2; the subsets stay the same) and ``{seed}`` in CHECKPOINT picks that
seed's synthetic model (e.g. ``WORK/__randomise/seed-{seed}/run/checkpoint.pt`` from ``run.py``).

    nice -n 10 python benchmarks/synth_transfer/pretrain.py ../shared/data/real60_train WORK CHECKPOINT \
        [--seeds 0 1 2]

appends one line per run to ``benchmarks/synth_transfer/pretrain_seeds.csv``, prints the table (mean
± sd over seeds; ``--table`` prints it alone) and plots the curves of the first seed in
``pretrain_curves.png``. ``pretrain.csv`` holds the earlier one-seed run (seed 0).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from real60_split import materialise, split  # the one fixed held-out fold
from run import PATCH, SEEDS, _tool
from seed_stats import mean_sd

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
]
RESULTS = HERE / "pretrain_seeds.csv"


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


def fine_tune(
    work: Path, size: int, init: str, seed: int, *, small: Path, rest: Path, checkpoint: str
) -> dict:
    """Train one model on ``small`` (chosen on ``rest``), score it on the held-out fold; its row."""
    run = work / f"ft{size}_{init}_seed{seed}"
    extra = ["--init", checkpoint.format(seed=seed)] if init == "synthetic" else []
    subprocess.run(
        _tool("mc-train")
        + [str(small), "--out", str(run), "--val-dir", str(rest), *RECIPE, "--seed", str(seed), *extra],
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
        curve = [float(r["val_auc"]) for r in csv.DictReader(f)]
    return {
        "real_patches": size,
        "init": init,
        "seed": seed,
        "test_auc": round(m["auc"], 3),
        "test_accuracy": round(m["accuracy"], 3),
        "best_val_auc": round(max(curve), 3),
        "curve": curve,
    }


def table() -> str:
    """Mean ± sd (n, min-max) over seeds of each (real patches, init) pair."""
    with open(RESULTS, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = [
        "| real patches | init | seeds | held-out AUC | held-out accuracy | best validation AUC |",
        "| ---: | --- | --- | ---: | ---: | ---: |",
    ]
    for key in dict.fromkeys((r["real_patches"], r["init"]) for r in rows):
        mine = [r for r in rows if (r["real_patches"], r["init"]) == key]
        cells = [mean_sd([float(r[k]) for r in mine]) for k in ("test_auc", "test_accuracy", "best_val_auc")]
        lines.append(f"| {key[0]} | {key[1]} | {', '.join(r['seed'] for r in mine)} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real_dir", type=Path, nargs="?", help="../shared/data/real60_train")
    parser.add_argument("work", type=Path, nargs="?", help="scratch folder")
    parser.add_argument("checkpoint", nargs="?", help="synthetic checkpoint; {seed} is replaced by the seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="training seeds")
    parser.add_argument("--table", action="store_true", help="print the Markdown table and stop")
    a = parser.parse_args()
    if a.table:
        print(table())
        return
    if a.checkpoint is None:
        parser.error("REAL_DIR, WORK and CHECKPOINT are needed (or --table)")
    parts = split(a.real_dir)
    materialise(parts, a.work / "real60_split")
    curves = {}
    for size in SIZES:
        small, rest = subsets(parts["train"], size, a.work / f"subset{size}")
        for init in ("scratch", "synthetic"):
            for seed in a.seeds:
                row = fine_tune(a.work, size, init, seed, small=small, rest=rest, checkpoint=a.checkpoint)
                curve = row.pop("curve")
                curves.setdefault((size, init), curve)  # the first seed's curve is plotted
                new = not RESULTS.exists()
                with open(RESULTS, "a", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(row))
                    if new:
                        writer.writeheader()
                    writer.writerow(row)
                print(row, flush=True)
    print(table())
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
