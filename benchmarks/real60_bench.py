"""``make bench-real``: the small-real-patch recipe on the project's held-out fold, 3 seeds, one table.

Splits ``../shared/data/real60_train`` by patient (benchmarks/synth_transfer/real60_split.py), then
for each seed trains with ``mc-train`` on the training fold (its own stratified validation share
chooses the checkpoint and the ``youden`` operating point) and scores the held-out fold with
``mc-eval``. AUC, and accuracy, sensitivity and specificity at the checkpoint's default operating
point, are reported per seed with their mean and sample standard deviation.

    python benchmarks/real60_bench.py WORK [--seeds 0 1 2] [--mode default|noamx] [more mc-train options]

``--mode noamx`` sets ``ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16`` and ``--amp off`` (a CPU without AMX).
Writes ``WORK/<mode>/s<seed>/`` and ``WORK/real60-<mode>.json``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REAL = HERE.parent.parent / "shared" / "data" / "real60_train"
RECIPE = [
    "--arch", "smallcnn", "--patch-size", "60", "--epochs", "20", "--batch-size", "32", "--lr", "1e-3",
    "--positive-class", "1",
]  # fmt: skip
KEYS = ("auc", "accuracy", "sensitivity", "specificity")


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def run_seed(work: Path, seed: int, mode: str, extra: list[str]) -> dict:
    """Train one seed and score the held-out fold at the checkpoint's default operating point."""
    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.trainer.metrics import binary_metrics

    run = work / mode / f"s{seed}"
    env = dict(os.environ)
    amp = []
    if mode == "noamx":
        env["ONEDNN_MAX_CPU_ISA"] = "AVX512_CORE_BF16"
        amp = ["--amp", "off"]
    if not (run / "metrics.json").is_file():
        cmd = [_bin("mc-train"), str(work / "split" / "train"), "--out", str(run), *RECIPE, *amp, *extra]
        subprocess.run([*cmd, "--seed", str(seed), "--quiet"], check=True, env=env)
    preds = run / "heldout.csv"
    subprocess.run(
        [
            _bin("mc-eval"),
            str(run / "checkpoint.pt"),
            str(work / "split" / "test"),
            "--out",
            str(preds),
            "--quiet",
        ],
        check=True,
        env=env,
    )
    rows = [line.split(",") for line in preds.read_text().splitlines()[1:]]
    is_pos = np.array([r[1] == "1" for r in rows])
    scores = np.array([float(r[2]) for r in rows])
    points = load_checkpoint(run / "checkpoint.pt").operating_points
    threshold = points.get(points.default).threshold
    m = binary_metrics(is_pos, scores, threshold=threshold)
    trained = json.loads((run / "metrics.json").read_text())
    return {
        "seed": seed,
        **{k: m[k] for k in KEYS},
        "threshold": threshold,
        "best_epoch": trained["best_epoch"],
        "val_auc": trained["auc"],
    }


def table(rows: list[dict]) -> str:
    """Per-seed rows, then mean and sample standard deviation."""
    lines = ["| seed | " + " | ".join(KEYS) + " | threshold | best epoch |", "|---" * (len(KEYS) + 3) + "|"]
    for r in rows:
        cells = " | ".join(f"{r[k]:.4f}" for k in KEYS)
        lines.append(f"| {r['seed']} | {cells} | {r['threshold']:.3f} | {r['best_epoch']} |")
    for name, fn in (("mean", np.mean), ("sd", lambda v: np.std(v, ddof=1) if len(v) > 1 else 0.0)):
        lines.append(f"| {name} | " + " | ".join(f"{fn([r[k] for r in rows]):.4f}" for k in KEYS) + " | | |")
    return "\n".join(lines)


def second_half_moves(aucs: list[float]) -> float:
    """Largest change of validation AUC between consecutive epochs over the second half of training."""
    half = aucs[len(aucs) // 2 - 1 :]
    return max(abs(b - a) for a, b in itertools.pairwise(half))


def plot(path: Path, curves: dict[str, dict[int, list[float]]]) -> None:
    """Validation AUC per epoch, one panel per configuration, one line per seed; second half shaded."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.5 * len(curves), 3.6), sharey=True, squeeze=False)
    for ax, (title, by_seed) in zip(axes[0], curves.items(), strict=True):
        for seed, aucs in by_seed.items():
            ax.plot(
                range(1, len(aucs) + 1),
                aucs,
                marker="o",
                label=f"seed {seed}: max move {second_half_moves(aucs):.3f}",
            )
        n = max(len(a) for a in by_seed.values())
        ax.axvspan(n / 2, n + 0.5, color="0.92", zorder=0)
        ax.set(title=f"{title}, {n} epochs", xlabel="epoch", ylabel="validation AUC", ylim=(0.4, 1.01))
        ax.legend(loc="lower right", fontsize=8, title="second half (shaded)", title_fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def history_aucs(run: Path) -> list[float]:
    lines = (run / "history.csv").read_text().splitlines()
    col = lines[0].split(",").index("val_auc")
    return [float(line.split(",")[col]) for line in lines[1:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--mode", choices=("default", "noamx"), default="default")
    ap.add_argument("--plot", type=Path, help="also draw validation AUC per epoch (docs/real60_history.png)")
    ap.add_argument(
        "--baseline-from",
        type=Path,
        help="real60_ablation.py's JSON: its baseline curves beside the recipe's",
    )
    args, extra = ap.parse_known_args()  # the rest goes to mc-train (e.g. --epochs 30 overrides 20)
    if not args.real.is_dir():
        sys.exit(f"{args.real}: the real 60x60 patches are absent (../shared/data/real60_train)")
    if not (args.work / "split" / "test").is_dir():
        split = HERE / "synth_transfer" / "real60_split.py"
        subprocess.run([sys.executable, str(split), str(args.real), str(args.work / "split")], check=True)
    rows = [run_seed(args.work, seed, args.mode, extra) for seed in args.seeds]
    result = {"mode": args.mode, "recipe": RECIPE + extra, "rows": rows}
    for key in KEYS:
        values = [r[key] for r in rows]
        result[key] = {
            "mean": float(np.mean(values)),
            "sd": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
        }
    curves = {
        "recipe (mc-train defaults)": {
            r["seed"]: history_aucs(args.work / args.mode / f"s{r['seed']}") for r in rows
        }
    }
    result["second_half_max_move"] = {
        seed: second_half_moves(a) for seed, a in curves["recipe (mc-train defaults)"].items()
    }
    (args.work / f"real60-{args.mode}.json").write_text(json.dumps(result, indent=1) + "\n")
    print(table(rows))
    print("largest epoch-to-epoch move of validation AUC, second half:", result["second_half_max_move"])
    if args.plot:
        if args.baseline_from:
            old = json.loads(args.baseline_from.read_text())["rows"]
            base = {r["seed"]: r["val_auc"] for r in old if r["config"] == "baseline"}
            curves = {"old behaviour (flags off)": base, **curves}
        plot(args.plot, curves)


if __name__ == "__main__":
    main()
