"""What the ground truth says about one scan: each finding hit or false positive, each true cluster hit
or missed, by the FROC's own matching rules (:func:`microcalc.evaluation.froc.match`).

``python -m microcalc.evaluation.verdict REPORT.json...`` prints it for mc-scan reports whose input
has ground truth (mc-synth's JSON beside it, or ``--truth`` CSV), so that a demo ends with an honest
check of the pictures it shows rather than pictures to interpret.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from microcalc.cli_common import run_cli
from microcalc.errors import InputError, one_line
from microcalc.evaluation.froc import match
from microcalc.evaluation.truth import read_truth_csv, truth_for


def verdict_lines(report: dict[str, Any], clusters: np.ndarray) -> list[str]:
    """Lines saying, for one scan report and its true clusters (``[m, 3]`` row, col, radius in px),
    which finding hit which cluster, which findings are false positives and which clusters were missed."""
    findings = report["findings"]
    boxes = np.array([[f["bbox_px"][k] for k in ("x0", "y0", "x1", "y1")] for f in findings], dtype=float)
    scores = np.array([f["score"] for f in findings], dtype=float)
    result = match(boxes.reshape(-1, 4), scores, clusters)
    name = Path(report["input"]).name
    view = " ".join(v for v in (report.get("laterality"), report.get("view")) if v)
    kind = f"{len(clusters)} true cluster{'s' if len(clusters) != 1 else ''}" if len(clusters) else "normal"
    lines = [f"{name} ({view or 'view ?'}, {kind}): {len(findings)} finding(s)"]
    order = sorted(range(len(findings)), key=lambda i: (-scores[i], i))
    rank = {i: findings[i].get("rank", r) for r, i in enumerate(order, start=1)}
    for i in order:
        c = findings[i]["centre_px"]
        where = f"finding #{rank[i]} (score {scores[i]:.3f}) at row {c['y']:.0f}, col {c['x']:.0f}"
        k = int(result.claimed[i])
        lines.append(f"  {where}: " + (f"HIT true cluster {k + 1}" if k >= 0 else "FALSE POSITIVE"))
    for k, (row, col, _) in enumerate(clusters):
        by = [rank[i] for i in order if result.claimed[i] == k]
        state = f"hit by finding #{by[0]}" if by else "MISSED"
        lines.append(f"  true cluster {k + 1} at row {row:.0f}, col {col:.0f}: {state}")
    if not len(clusters):
        fp = result.false_positives
        lines.append(f"  {name}: clean normal image" if not fp else f"  {name}: {fp} false positive(s)")
    return lines


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--truth",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV image,row,col,radius_mm [default: the mc-synth JSON beside each input].",
)
def cli(reports: tuple[Path, ...], truth: Path | None) -> None:
    """Print the ground truth's verdict on each mc-scan REPORT (JSON) and its findings."""
    table = read_truth_csv(truth) if truth is not None else None
    for path in reports:
        try:
            report = json.loads(path.read_text())
            image, spacing = Path(report["input"]), report.get("pixel_spacing_mm")
            clusters = truth_for(image, table).in_pixels(tuple(spacing) if spacing else None, image=image)
            lines = verdict_lines(report, clusters)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"{path}: not a readable mc-scan report ({one_line(exc)})") from exc
        click.echo("\n".join(lines))


main = run_cli(cli, "verdict")

if __name__ == "__main__":
    main()
