"""The spacing suite's table: cluster sensitivity per detector spacing, with and without resampling.

Reads ``FROC/<arm>/s<MM>/froc.json`` written by ``mc-froc`` (arms ``resampled`` and ``native``)
and writes a Markdown table and a JSON summary. The reference is the model's own spacing; a
spacing passes when its sensitivity at the FP budget is within ``--tolerance`` of the reference.

Usage: python benchmarks/spacing_table.py FROC --reference 0.07 --out table.md --json table.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ARMS = ("resampled", "native")
BUDGETS = ("0.25", "0.5", "1")


def load(froc_dir: Path) -> dict[str, dict[float, dict]]:
    """``{arm: {spacing: froc.json}}`` for every ``froc_dir/<arm>/s<MM>/froc.json`` present."""
    out: dict[str, dict[float, dict]] = {}
    for arm in ARMS:
        for path in sorted((froc_dir / arm).glob("s*/froc.json")):
            out.setdefault(arm, {})[float(path.parent.name[1:])] = json.loads(path.read_text())
    return out


def summarise(runs: dict[str, dict[float, dict]], *, reference: float, budget: str, tolerance: float) -> dict:
    """Per arm and spacing: images, clusters, sensitivity at each budget and the change from the reference."""
    rows = {}
    for arm, by_spacing in runs.items():
        ref = by_spacing.get(reference, {}).get("sensitivity_at_fp", {}).get(budget)
        for spacing, froc in sorted(by_spacing.items()):
            sens = froc["sensitivity_at_fp"]
            delta = None if sens.get(budget) is None or ref is None else sens[budget] - ref
            rows.setdefault(f"{spacing:g}", {})[arm] = {
                "images": froc["images"],
                "clusters": froc["clusters"],
                "failed": len(froc["failed"]),
                "sensitivity_at_fp": {b: sens.get(b) for b in BUDGETS},
                "delta": delta,
                "within_tolerance": None if delta is None else abs(delta) <= tolerance,
                "image_auc": froc.get("image_auc"),
                "scan_seconds": froc.get("scan_seconds"),
            }
    return {
        "reference_spacing_mm": reference,
        "budget_fp_per_image": float(budget),
        "tolerance": tolerance,
        "rows": rows,
    }


def _f(value: float | None, fmt: str = ".3f") -> str:
    return "n/a" if value is None else format(value, fmt)


def markdown(summary: dict) -> str:
    budget = f"{summary['budget_fp_per_image']:g}"
    header = (
        f"| spacing (mm) | images / clusters | sensitivity at {budget} FP/image, resampled | change | "
        f"within {summary['tolerance']:g} | native grid | change | sens. at 0.5 / 1 FP, resampled |"
    )
    lines = [header, "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for spacing, arms in summary["rows"].items():
        res, nat = arms.get("resampled", {}), arms.get("native", {})
        sens = res.get("sensitivity_at_fp", {})
        ref = " (model)" if float(spacing) == summary["reference_spacing_mm"] else ""
        verdict = {True: "yes", False: "**no**", None: "n/a"}[res.get("within_tolerance")]
        lines.append(
            f"| {spacing}{ref} | {res.get('images', '-')} / {res.get('clusters', '-')} | "
            f"{_f(sens.get(budget))} | {_f(res.get('delta'), '+.3f')} | {verdict} | "
            f"{_f(nat.get('sensitivity_at_fp', {}).get(budget))} | {_f(nat.get('delta'), '+.3f')} | "
            f"{_f(sens.get('0.5'))} / {_f(sens.get('1'))} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("froc_dir", type=Path)
    parser.add_argument("--reference", type=float, default=0.07, help="the model's spacing in mm")
    parser.add_argument("--budget", default="0.25", choices=BUDGETS, help="false positives per image")
    parser.add_argument("--tolerance", type=float, default=0.05)
    parser.add_argument("--out", type=Path, required=True, help="Markdown table")
    parser.add_argument("--json", type=Path, required=True, help="JSON summary")
    args = parser.parse_args()
    summary = summarise(
        load(args.froc_dir), reference=args.reference, budget=args.budget, tolerance=args.tolerance
    )
    args.json.write_text(json.dumps(summary, indent=2) + "\n")
    args.out.write_text(markdown(summary))
    print(markdown(summary), end="")


if __name__ == "__main__":
    main()
