"""Transfer table: train on mc-synth patches only, evaluate on the fixed held-out fold of real60_train.

Each row adds one change to mc-synth's patches and trains the same small model on them (the
recipe below, validation on a synthetic split: no real patch chooses the checkpoint); the model
is then scored once on the held-out real fold (``real60_split.py``), which no tuning ever saw.
AUC, and accuracy, sensitivity and specificity at the model's operating point (p >= 0.5).
Each row is trained with every ``--seeds`` training seed (default 0 1 2; the patches, mc-synth seed
1, are the same for all) and the table gives mean ± sd over them (issue 21: one seed is one draw).

    nice -n 10 python benchmarks/synth_transfer/run.py ../shared/data/real60_train WORK [ROW ...] \
        [--seeds 0 1 2]

writes ``WORK/<row>/patches`` and ``WORK/<row>/seed-S/`` (run, metrics) and appends one line per
seed to ``benchmarks/synth_transfer/transfer_seeds.csv``; ``--table`` prints the Markdown table
(mean ± sd per row) from it. ``transfer.csv`` holds the earlier one-seed runs (seed 0).
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from real60_split import materialise, split
from seed_stats import mean_sd

N, EPOCHS, SEED, PATCH = 1000, 6, 1, 60
RECIPE = [
    "--arch",
    "smallcnn",
    "--patch-size",
    str(PATCH),
    "--batch-size",
    "32",
    "--lr",
    "2e-3",
    "--weight-decay",
    "1e-4",
]
SEEDS = (0, 1, 2)
RANDOMISED = ["--spacing", "0.085", "--framing", "inside", "--randomise"]
# Each row: mc-synth patches options (cumulative from the baseline), patches, epochs.
ROWS = {
    "baseline (defaults, 0.07 mm)": ([], N, EPOCHS),
    "+ --spacing 0.085": (["--spacing", "0.085"], N, EPOCHS),
    "+ --framing inside": (["--spacing", "0.085", "--framing", "inside"], N, EPOCHS),
    "+ --randomise": (RANDOMISED, N, EPOCHS),
}
RESULTS = HERE / "transfer_seeds.csv"
METRICS = ("auc", "accuracy", "sensitivity", "specificity")
FIELDS = [
    "row",
    "seed",
    "synth_options",
    "patches",
    "epochs",
    "auc",
    "accuracy",
    "sensitivity",
    "specificity",
    "n_test",
    "minutes",
]


def _tool(name: str) -> list[str]:
    modules = {
        "mc-synth": "microcalc.synth.cli",
        "mc-train": "microcalc.trainer.cli_train",
        "mc-eval": "microcalc.trainer.cli_eval",
        "mc-export": "microcalc.export.cli",
    }
    return [
        sys.executable,
        "-c",
        f"import sys; sys.argv[0] = '{name}'; from {modules[name]} import main; main()",
    ]


def run_row(name: str, *, seed: int, real_test: Path, work: Path) -> dict:
    """Synthesise (once per row), train with ``seed`` and evaluate one row; returns its metrics."""
    options, n, epochs = ROWS[name]
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    patches, folder = work / slug / "patches", work / slug / f"seed-{seed}"
    start = time.time()
    if not (patches / "truth.json").is_file():
        _synthesise(patches, n, options)
    if not (folder / "run" / "metrics.json").is_file():  # a finished run is kept (resume after a stop)
        subprocess.run(
            _tool("mc-train")
            + [
                str(patches),
                "--out",
                str(folder / "run"),
                *RECIPE,
                "--seed",
                str(seed),
                "--epochs",
                str(epochs),
            ],
            check=True,
        )
    subprocess.run(
        _tool("mc-eval")
        + [
            str(folder / "run" / "checkpoint.pt"),
            str(real_test),
            "--positive-class",
            "1",
            "--metrics",
            str(folder / "real_test.json"),
            "--quiet",
        ],
        check=True,
    )
    return _record(name, seed, folder / "real_test.json", start)


def run_ensemble(name: str, *, seeds: list[int], real_test: Path, work: Path) -> dict:
    """mc-export the row's seed checkpoints as one averaging graph, mc-eval it on the held-out fold
    (ONNX Runtime; at p >= 0.5 like the members, the bundle's fallback threshold): its row."""
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    folder = work / slug / f"ensemble-{'-'.join(map(str, seeds))}"
    members = [
        a for s in seeds for a in ("--checkpoint", str(work / slug / f"seed-{s}" / "run" / "checkpoint.pt"))
    ]
    start = time.time()
    if not (folder / "bundle" / "bundle.json").is_file():
        subprocess.run(_tool("mc-export") + [*members, "--out", str(folder / "bundle")], check=True)
    subprocess.run(
        _tool("mc-eval")
        + [str(folder / "bundle"), str(real_test), "--backend", "onnxruntime", "--positive-class", "1"]
        + ["--metrics", str(folder / "real_test.json"), "--quiet"],
        check=True,
    )
    return _record(name, f"ensemble {'+'.join(map(str, seeds))}", folder / "real_test.json", start)


def _record(name: str, seed: int | str, metrics: Path, start: float) -> dict:
    """One line of the results: the row, its seed (or ensemble) and mc-eval's held-out metrics."""
    options, n, epochs = ROWS[name]
    m = json.loads(metrics.read_text())
    return {
        "row": name,
        "seed": seed,
        "synth_options": " ".join(options),
        "patches": n,
        "epochs": epochs,
        **{k: round(m[k], 3) for k in METRICS},
        "n_test": m["n"],
        "minutes": round((time.time() - start) / 60.0, 1),
    }


def _synthesise(patches: Path, n: int, options: list[str]) -> None:
    subprocess.run(
        _tool("mc-synth")
        + [
            "patches",
            str(patches),
            "--n",
            str(n),
            "--patch-size",
            str(PATCH),
            "--seed",
            str(SEED),
            *options,
        ],
        check=True,
    )


def table() -> str:
    """The Markdown table of every recorded row: mean ± sd (n, min-max) over its seeds."""
    with open(RESULTS, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = [
        (
            "| change | mc-synth patches options | patches | epochs | seeds | AUC | accuracy | sensitivity "
            "| specificity |"
        ),
        "| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |",
    ]
    for name in dict.fromkeys(r["row"] for r in rows):
        mine = [r for r in rows if r["row"] == name and r["seed"].isdigit()]
        first = mine[0] if mine else next(r for r in rows if r["row"] == name)
        options = f"`{first['synth_options']}`" if first["synth_options"] else "none"
        lead = f"| {name} | {options} | {first['patches']} | {first['epochs']} |"
        if mine:
            cells = [mean_sd([float(r[k]) for r in mine]) for k in METRICS]
            lines.append(f"{lead} {', '.join(r['seed'] for r in mine)} | {' | '.join(cells)} |")
        for r in rows:
            if r["row"] == name and not r["seed"].isdigit():
                lines.append(f"{lead} {r['seed']} | {' | '.join(r[k] for k in METRICS)} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("real_dir", type=Path, nargs="?", help="../shared/data/real60_train")
    parser.add_argument("work", type=Path, nargs="?", help="scratch folder")
    parser.add_argument("rows", nargs="*", help=f"rows to run (default: all): {', '.join(ROWS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS), help="training seeds")
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="also the seeds' ensemble (mc-export of all, mc-eval of the bundle)",
    )
    parser.add_argument("--table", action="store_true", help="print the Markdown table and stop")
    a = parser.parse_args()
    if a.table:
        print(table())
        return
    if a.real_dir is None or a.work is None:
        parser.error("REAL_DIR and WORK are needed (or --table)")
    materialise(split(a.real_dir), a.work / "real60_split")
    test = a.work / "real60_split" / "test"
    done = set()
    if RESULTS.exists():
        with open(RESULTS, newline="") as f:
            done = {(r["row"], r["seed"]) for r in csv.DictReader(f)}
    for name in a.rows or list(ROWS):
        jobs = [(str(s), partial(run_row, name, seed=s)) for s in a.seeds]
        if a.ensemble:
            key = f"ensemble {'+'.join(map(str, a.seeds))}"
            jobs.append((key, partial(run_ensemble, name, seeds=a.seeds)))
        for key, job in jobs:
            if (name, key) in done:  # recorded by an earlier, interrupted invocation
                continue
            row = job(real_test=test, work=a.work)
            new = not RESULTS.exists()
            with open(RESULTS, "a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=FIELDS)
                if new:
                    writer.writeheader()
                writer.writerow(row)
            print(row, flush=True)
    print(table())


if __name__ == "__main__":
    main()
