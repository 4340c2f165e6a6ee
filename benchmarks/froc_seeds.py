"""The FROC recipe over seeds, and their ensemble: one table with mean and sd (``make bench-froc``).

Reads what ``froc_recipe.sh --seed S`` left in ``WORK/seed-S/`` (``froc/froc.json`` on the held-out
mammograms, ``train_wall_seconds``) and, when there, the ensemble's ``WORK/ensemble/froc/froc.json``;
writes the JSON and a Markdown table. Seeds whose held-out FROC is missing are listed as not run.

    python benchmarks/froc_seeds.py --work WORK --seeds 0 1 2 --out results.json --markdown results.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from seed_stats import mean_sd, summarise

BUDGET = "0.25"  # the FP/image budget of the recipe's target and of its default point fp0.25


def _figures(folder: Path) -> dict[str, Any] | None:
    """One model's held-out figures (``None`` while its FROC is missing)."""
    froc = folder / "froc" / "froc.json"
    if not froc.is_file():
        return None
    data = json.loads(froc.read_text())
    at = data.get("at_operating_point") or {}
    wall = folder / "train_wall_seconds"
    return {
        "model_sha256": data.get("model_sha256"),
        "backend": data.get("backend"),
        "clusters": data.get("clusters"),
        "images": data.get("images"),
        "sensitivity_at_0.25_fp": data["sensitivity_at_fp"].get(BUDGET),
        "image_auc": data.get("image_auc"),
        "default_point": (data.get("operating_point") or {}).get("name"),
        "default_threshold": at.get("threshold"),
        "sensitivity_at_default": at.get("sensitivity"),
        "fp_per_image_at_default": at.get("fp_per_image"),
        "scan_seconds": data.get("scan_seconds"),
        "train_wall_seconds": int(wall.read_text()) if wall.is_file() else None,
    }


KEYS = ("sensitivity_at_0.25_fp", "sensitivity_at_default", "fp_per_image_at_default", "image_auc")


def collect(work: Path, seeds: list[int]) -> dict[str, Any]:
    """Per-seed figures, their mean/sd/min/max, and the ensemble's figures."""
    per_seed = {s: _figures(work / f"seed-{s}") for s in seeds}
    done = {s: f for s, f in per_seed.items() if f is not None}
    return {
        "seeds": {str(s): f for s, f in done.items()},
        "not_run": [s for s, f in per_seed.items() if f is None],
        "summary": {k: summarise([f[k] for f in done.values()]) for k in KEYS},
        "ensemble": _figures(work / "ensemble"),
    }


def markdown(result: dict[str, Any]) -> str:
    """The table: one row per seed, the mean ± sd row, and the ensemble."""
    head = [
        (
            "| model | cluster sensitivity at 0.25 FP/image | default point: threshold | sensitivity "
            "| FP/image | image AUC | training wall (s) |"
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, f: dict[str, Any]) -> str:
        cells = [f["sensitivity_at_0.25_fp"], f["default_threshold"], f["sensitivity_at_default"]]
        wall = f["train_wall_seconds"] or "-"
        return (
            f"| {name} | {cells[0]:.3f} | {cells[1]:.4f} | {cells[2]:.3f} "
            f"| {f['fp_per_image_at_default']:.2f} | {f['image_auc']:.3f} | {wall} |"
        )

    seeds = result["seeds"]
    lines = head + [row(f"seed {s}", f) for s, f in seeds.items()]
    values = {k: [f[k] for f in seeds.values()] for k in KEYS}
    lines.append(
        f"| **mean ± sd over {len(seeds)} seeds** | {mean_sd(values['sensitivity_at_0.25_fp'])} | - | "
        f"{mean_sd(values['sensitivity_at_default'])} "
        f"| {mean_sd(values['fp_per_image_at_default'], digits=2)} | {mean_sd(values['image_auc'])} | - |"
    )
    if result["ensemble"]:
        lines.append(row(f"ensemble of seeds {', '.join(seeds)}", result["ensemble"]))
    if result["not_run"]:
        lines.append(f"\nNot run (no held-out FROC): seeds {', '.join(map(str, result['not_run']))}.")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="MC_FROC_WORK of froc_recipe.sh")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    a = parser.parse_args()
    result = collect(a.work, a.seeds)
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    table = markdown(result)
    if a.markdown:
        a.markdown.write_text(table)
    print(table, end="")


if __name__ == "__main__":
    main()
