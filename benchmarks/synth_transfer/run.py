"""Transfer table: train on mc-synth patches only, evaluate on the fixed held-out fold of real60_train.

Each row adds one change to mc-synth's patches and trains the same small model on them (the
recipe below, validation on a synthetic split: no real patch chooses the checkpoint); the model
is then scored once on the held-out real fold (``real60_split.py``), which no tuning ever saw.
AUC, and accuracy, sensitivity and specificity at the model's operating point (p >= 0.5).

    nice -n 10 python benchmarks/synth_transfer/run.py ../shared/data/real60_train WORK [ROW ...]

writes ``WORK/<row>/`` (patches, run, metrics) and appends to
``benchmarks/synth_transfer/transfer.csv``; ``--table`` prints the Markdown table from it.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from real60_split import materialise, split

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
    "--seed",
    "0",
]
RANDOMISED = ["--spacing", "0.085", "--framing", "inside", "--randomise"]
# Each row: mc-synth patches options (cumulative from the baseline), patches, epochs.
ROWS = {
    "baseline (defaults, 0.07 mm)": ([], N, EPOCHS),
    "+ --spacing 0.085": (["--spacing", "0.085"], N, EPOCHS),
    "+ --framing inside": (["--spacing", "0.085", "--framing", "inside"], N, EPOCHS),
    "+ --randomise": (RANDOMISED, N, EPOCHS),
}
RESULTS = HERE / "transfer.csv"
FIELDS = [
    "row",
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
    }
    return [
        sys.executable,
        "-c",
        f"import sys; sys.argv[0] = '{name}'; from {modules[name]} import main; main()",
    ]


def run_row(name: str, *, real_test: Path, work: Path) -> dict:
    """Synthesise, train and evaluate one row; returns its metrics."""
    options, n, epochs = ROWS[name]
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    folder = work / slug
    start = time.time()
    subprocess.run(
        _tool("mc-synth")
        + [
            "patches",
            str(folder / "patches"),
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
    subprocess.run(
        _tool("mc-train")
        + [str(folder / "patches"), "--out", str(folder / "run"), *RECIPE, "--epochs", str(epochs)],
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
    m = json.loads((folder / "real_test.json").read_text())
    return {
        "row": name,
        "synth_options": " ".join(options),
        "patches": n,
        "epochs": epochs,
        "auc": round(m["auc"], 3),
        "accuracy": round(m["accuracy"], 3),
        "sensitivity": round(m["sensitivity"], 3),
        "specificity": round(m["specificity"], 3),
        "n_test": m["n"],
        "minutes": round((time.time() - start) / 60.0, 1),
    }


def table() -> str:
    """The Markdown table of every recorded row."""
    with open(RESULTS, newline="") as f:
        rows = list(csv.DictReader(f))
    lines = [
        (
            "| change | mc-synth patches options | patches | epochs | AUC | accuracy | sensitivity | "
            "specificity |"
        ),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        options = f"`{r['synth_options']}`" if r["synth_options"] else "none"
        lines.append(
            f"| {r['row']} | {options} | {r['patches']} | {r['epochs']} | {r['auc']} | "
            f"{r['accuracy']} | {r['sensitivity']} | {r['specificity']} |"
        )
    return "\n".join(lines)


def main() -> None:
    if sys.argv[1:] == ["--table"]:
        print(table())
        return
    real_dir, work = Path(sys.argv[1]), Path(sys.argv[2])
    materialise(split(real_dir), work / "real60_split")
    chosen = sys.argv[3:] or list(ROWS)
    for name in chosen:
        row = run_row(name, real_test=work / "real60_split" / "test", work=work)
        new = not RESULTS.exists()
        with open(RESULTS, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        print(row, flush=True)


if __name__ == "__main__":
    main()
