"""Which training augmentations hold on data that differs from training (issue 9, part 3).

Trains the same model with each augmentation setting on one synthetic patch set, then scores
validation sets that differ from it (other seeds, a fixed BI-RADS density, extra detector noise,
MONOCHROME1 storage) and reports, at the checkpoint's default patch operating point (``youden``,
chosen by mc-train on its own in-distribution validation split): accuracy, specificity,
sensitivity, the best accuracy any threshold would give on that set, accuracy at the old fixed
0.5, and AUC. Judged by accuracy at the operating point and specificity, not only by AUC.

    python benchmarks/augmentation_ablation.py --work /tmp/ablation \
        --out benchmarks/results/augmentation_ablation.json --markdown /tmp/ablation/table.md

``--checkpoint`` judges one model trained elsewhere (e.g. benchmarks/froc_recipe.sh's ResNet18)
on the same six kinds of shifted sets, made at its patch size, instead of training the three:

    python benchmarks/augmentation_ablation.py --work /tmp/shift224 --checkpoint run/checkpoint.pt \
        --name "resnet18 224" --out shifted.json

Needs the train extra (torch). Takes several minutes per configuration on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

CONFIGS = {  # name: (run folder, mc-train flags)
    "geometric (new default)": ("geometric", []),
    "geometric + photometric (old default)": ("photometric", ["--photometric"]),
    "none": ("none", ["--no-augment"]),
}
SHIFTS = {  # name: mc-synth patches flags (each set has its own seeds, never used in training)
    "other seeds": ["--seed", "501"],
    "fatty": ["--seed", "502", "--density", "fatty"],
    "dense": ["--seed", "503", "--density", "dense"],
    "noise 4": ["--seed", "504", "--noise", "4"],
    "noise 8": ["--seed", "505", "--noise", "8"],
    "MONOCHROME1": ["--seed", "506", "--photometric", "MONOCHROME1"],
}


def run(tool: str, args: list[str]) -> None:
    """A console script of the interpreter's environment (mc-synth, mc-train)."""
    subprocess.run([str(Path(sys.executable).parent / tool), *args], check=True)


def best_accuracy(is_pos: np.ndarray, scores: np.ndarray) -> float:
    from microcalc.operating_points import roc_points

    _, sens, spec = roc_points(is_pos, scores)
    p, n = is_pos.sum(), (~is_pos).sum()
    accs = (sens * p + spec * n) / (p + n)
    return float(max(accs.max(), n / (p + n)))  # a threshold above every score: all negative


def judge(checkpoint: Path, folder: Path) -> dict[str, float]:
    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.trainer.evaluate import collect, evaluate
    from microcalc.trainer.metrics import binary_metrics

    point = load_checkpoint(checkpoint).operating_points
    threshold = point.get(point.default).threshold
    items = collect([folder])
    _, scores = evaluate(
        checkpoint, items, backend="torch", precision="fp32", batch=64, policy="error", progress=False
    )
    is_pos = np.array([i.label == "cluster" for i in items])
    at = binary_metrics(is_pos, scores, threshold=threshold)
    return {
        "threshold": threshold,
        "accuracy": at["accuracy"],
        "specificity": at["specificity"],
        "sensitivity": at["sensitivity"],
        "best_accuracy": best_accuracy(is_pos, scores),
        "accuracy_at_0.5": binary_metrics(is_pos, scores, threshold=0.5)["accuracy"],
        "auc": at["auc"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="scratch folder (data, runs)")
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    parser.add_argument("--arch", default="smallcnn")
    parser.add_argument("--patch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--n-train", type=int, default=640)
    parser.add_argument("--n-val", type=int, default=400)
    parser.add_argument(
        "--checkpoint",
        type=Path,
        help="judge this trained model instead of training the three configurations",
    )
    parser.add_argument("--name", default="checkpoint", help="its label in the table (with --checkpoint)")
    a = parser.parse_args()
    if a.checkpoint:
        from microcalc.models.checkpoint import load_checkpoint

        a.patch_size = load_checkpoint(a.checkpoint).config.patch_size
    make_shifted_sets(a.work, patch_size=a.patch_size, n=a.n_val)
    if a.checkpoint:
        results = judge_checkpoint(a.checkpoint, a.work, name=a.name)
        write_results(results, out=a.out, markdown=a.markdown)
        return
    p = str(a.patch_size)
    train = a.work / "train"
    if not (train / "truth.json").is_file():
        run("mc-synth", ["patches", str(train), "--n", str(a.n_train), "--patch-size", p, "--seed", "1"])
    results = {
        "arch": a.arch,
        "patch_size": a.patch_size,
        "epochs": a.epochs,
        "lr": a.lr,
        "n_train": a.n_train,
        "n_val": a.n_val,
        "configs": {},
    }
    for config, (folder, flags) in CONFIGS.items():
        run_dir = a.work / "runs" / folder
        if not (run_dir / "metrics.json").is_file():
            run(
                "mc-train",
                [
                    str(train),
                    "--out",
                    str(run_dir),
                    "--arch",
                    a.arch,
                    "--patch-size",
                    p,
                    "--epochs",
                    str(a.epochs),
                    "--batch-size",
                    "32",
                    "--lr",
                    str(a.lr),
                    "--weight-decay",
                    "1e-4",
                    "--seed",
                    "0",
                    "--quiet",
                    *flags,
                ],
            )
        trained = json.loads((run_dir / "metrics.json").read_text())
        sets = {
            name: judge(run_dir / "checkpoint.pt", a.work / "val" / name.replace(" ", "_")) for name in SHIFTS
        }
        results["configs"][config] = {
            "flags": flags,
            "train_seconds": trained["train_seconds"],
            "val_auc": trained["auc"],
            "sets": sets,
        }
        print(json.dumps({config: sets}, indent=1), flush=True)
    write_results(results, out=a.out, markdown=a.markdown)


def make_shifted_sets(work: Path, *, patch_size: int, n: int) -> None:
    """The six validation sets of :data:`SHIFTS` under ``work/val`` (kept when already there)."""
    for name, flags in SHIFTS.items():
        folder = work / "val" / name.replace(" ", "_")
        if not (folder / "truth.json").is_file():
            run("mc-synth", ["patches", str(folder), "--n", str(n), "--patch-size", str(patch_size), *flags])


def judge_checkpoint(checkpoint: Path, work: Path, *, name: str) -> dict:
    """One trained model on every shifted set, in the layout of the ablation's results."""
    from microcalc.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(checkpoint)
    sets = {shift: judge(checkpoint, work / "val" / shift.replace(" ", "_")) for shift in SHIFTS}
    return {
        "arch": ckpt.config.arch,
        "patch_size": ckpt.config.patch_size,
        "checkpoint": str(checkpoint),
        "configs": {name: {"val_auc": ckpt.metrics.get("auc"), "sets": sets}},
    }


def write_results(results: dict, *, out: Path, markdown: Path | None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1) + "\n")
    print(table(results))
    if markdown:
        markdown.write_text(table(results) + "\n")


def table(results: dict) -> str:
    """Markdown: one row per configuration and validation set."""
    header = (
        "| augmentation | validation set | threshold | accuracy | specificity | sensitivity | best accuracy "
        "| gap | accuracy at 0.5 | AUC |"
    )
    lines = [header, "|" + "---|" * 10]
    for config, r in results["configs"].items():
        for name, m in r["sets"].items():
            lines.append(
                f"| {config} | {name} | {m['threshold']:.3f} | {m['accuracy']:.3f} | {m['specificity']:.3f} "
                f"| {m['sensitivity']:.3f} | {m['best_accuracy']:.3f} "
                f"| {m['best_accuracy'] - m['accuracy']:.3f} "
                f"| {m['accuracy_at_0.5']:.3f} | {m['auc']:.4f} |"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
