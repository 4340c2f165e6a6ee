"""Print metrics as a table (rich), the same for mc-train and mc-eval."""

from __future__ import annotations

from typing import Any

from microcalc.trainer.metrics import METRIC_KEYS


def print_metrics(metrics: dict[str, Any], *, title: str) -> None:
    """One row per metric; the standard deviation too when the run was cross-validated."""
    from rich.console import Console
    from rich.table import Table

    std = metrics.get("std", {})
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    if std:
        table.add_column("std", justify="right")
    for key in METRIC_KEYS:
        value = metrics.get(key)
        row = [key, "n/a" if value is None else f"{value:.4f}"]
        if std:
            row.append(f"{std[key]:.4f}" if key in std else "")
        table.add_row(*row)
    if "confusion_matrix" in metrics:
        (tn, fp), (fn, tp) = metrics["confusion_matrix"]
        table.add_row("TP / FN / FP / TN", f"{tp} / {fn} / {fp} / {tn}", *([""] if std else []))
    point = f" (operating point {metrics['operating_point']})" if metrics.get("operating_point") else ""
    table.add_row("threshold", f"{metrics.get('threshold', 0.5):.4g}{point}", *([""] if std else []))
    Console().print(table)
    points = metrics.get("operating_points") or {}
    if points:
        at = Table(title="operating points (chosen on these validation patches)")
        for column in ("point", "threshold", "accuracy", "sensitivity", "specificity"):
            at.add_column(column, justify="left" if column == "point" else "right")
        for name, m in points.items():
            keys = ("threshold", "accuracy", "sensitivity", "specificity")
            at.add_row(name, *(f"{m[k]:.4f}" for k in keys))
        Console().print(at)
