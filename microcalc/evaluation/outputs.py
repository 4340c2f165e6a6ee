"""What ``mc-froc`` writes: ``froc.csv``, ``froc.json``, ``froc.png`` and the console table.

Every file is written under a temporary name and renamed, so an interrupted run leaves no
partial file. The plot needs matplotlib (the ``train`` extra); where it is absent the plot is
skipped with a one-line note and everything else is still written.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from rich.table import Table

from microcalc.atomic import write_atomic, write_json_atomic
from microcalc.evaluation.froc import FP_TARGETS, FrocCurve


def curve_csv(curve: FrocCurve) -> str:
    """``threshold,sensitivity,fp_per_image``, one row per evaluated threshold (descending)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(("threshold", "sensitivity", "fp_per_image"))
    for t, s, f in zip(curve.thresholds, curve.sensitivity, curve.fp_per_image):
        writer.writerow((f"{t:.9g}", f"{s:.6f}", f"{f:.6f}"))
    return buf.getvalue()


def at_fp_table(curve: FrocCurve) -> dict[str, dict[str, float] | None]:
    """``{"0.1": {threshold, sensitivity, fp_per_image} | None, ...}`` for :data:`FP_TARGETS`."""
    return {f"{t:g}": curve.at_fp(t) for t in FP_TARGETS}


def plot(path: Path, curve: FrocCurve, *, marked: dict[str, float], title: str) -> str | None:
    """Draw the FROC into ``path``; returns a note instead when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return 'matplotlib is not installed (pip install "microcalc[train]"): froc.png skipped'
    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=120)
    # in threshold order: findings merge as the threshold falls, so the curve may turn back on itself
    ax.plot(
        curve.fp_per_image, curve.sensitivity, color="tab:blue", lw=1.2, label="by threshold, high to low"
    )
    ax.scatter(
        [marked["fp_per_image"]],
        [marked["sensitivity"]],
        color="tab:red",
        zorder=3,
        label=f"{marked['label']}: sens {marked['sensitivity']:.2f} at {marked['fp_per_image']:.2f} FP/image",
    )
    for t in FP_TARGETS:
        ax.axvline(t, color="0.85", lw=0.8, zorder=0)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(0, max(4.0, float(curve.fp_per_image.max()) * 1.05))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("mean false positives per image")
    ax.set_ylabel("cluster sensitivity")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    try:
        write_atomic(path, lambda f: fig.savefig(f, format="png"))
    finally:
        plt.close(fig)
    return None


def write_all(
    out: Path, curve: FrocCurve, report: dict[str, Any], *, marked: dict[str, float], title: str
) -> list[str]:
    """Write the three files into ``out``; returns notes (the plot's, when skipped)."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "froc.csv", lambda f: f.write(curve_csv(curve).encode()))
    note = plot(out / "froc.png", curve, marked=marked, title=title)
    write_json_atomic(out / "froc.json", report)
    return [note] if note else []


def console_table(curve: FrocCurve, report: dict[str, Any]) -> Table:
    """Sensitivity at each FP/image budget, then the figures at the operating point used."""
    auc = report["image_auc"]
    table = Table(
        title=f"mc-froc: {curve.n_images} images, {curve.n_clusters} clusters, image-level AUC "
        f"{'n/a' if auc is None else f'{auc:.3f}'}"
    )
    for column in ("FP/image budget", "threshold", "cluster sensitivity", "FP/image"):
        table.add_column(column, justify="right")
    for target, at in report["points_at_fp"].items():
        if at is None:
            table.add_row(target, "-", "out of reach", "-")
        else:
            table.add_row(
                target, f"{at['threshold']:.4g}", f"{at['sensitivity']:.3f}", f"{at['fp_per_image']:.3f}"
            )
    op = report["at_operating_point"]
    table.add_row(
        f"[bold]{op['label']}[/]",
        f"{op['threshold']:.4g}",
        f"[bold]{op['sensitivity']:.3f}[/]",
        f"[bold]{op['fp_per_image']:.3f}[/]",
    )
    return table
