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
    table.add_row("threshold", f"{metrics.get('threshold', 0.5):g}", *([""] if std else []))
    Console().print(table)
