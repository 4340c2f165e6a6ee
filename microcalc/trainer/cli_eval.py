"""``mc-eval``: score patches with a checkpoint or a bundle; metrics where labels are known."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import click

from microcalc.atomic import write_json_atomic, write_text_atomic
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import device_option, fit_option
from microcalc.engine.scan_options import backend_choice, precision_choice
from microcalc.errors import InputError


def write_predictions(path: Path | None, rows: list[tuple[str, str, float]]) -> None:
    """``path,label,p_cluster`` rows to ``path`` (atomically) or to stdout when ``path`` is None."""
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["path", "label", "p_cluster"])
    writer.writerows((p, lab, f"{s:.6f}") for p, lab, s in rows)
    if path is None:
        sys.stdout.write(text.getvalue())
    else:
        write_text_atomic(path, text.getvalue())


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--backend",
    type=backend_choice(),
    help="Inference backend (default: torch for a checkpoint, auto for a bundle).",
)
@click.option("--precision", type=precision_choice(auto=False), default="fp32")
@click.option("--positive-class", help="Class folder holding clusters (default: the model's positive class).")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    help="Predictions CSV (path,label,p_cluster); stdout when there are no labels and no --out.",
)
@click.option("--metrics", "metrics_file", type=click.Path(path_type=Path), help="Write metrics as JSON.")
@fit_option()
@click.option("--batch-size", default=16)
@device_option()
@click.option("--quiet", is_flag=True, help="No progress bar or table.")
def cli(
    model: Path,
    paths: tuple[Path, ...],
    backend: str | None,
    precision: str,
    positive_class: str | None,
    out: Path | None,
    metrics_file: Path | None,
    fit_policy: str,
    batch_size: int,
    device: str,
    quiet: bool,
) -> None:
    """Score patches PATH... with MODEL and report the paper's metrics.

    MODEL is a checkpoint (checkpoint.pt from mc-train, the published .tar, a torchvision state
    dict) run with PyTorch, or a bundle folder from mc-export run with any backend. A PATH folder
    with class subfolders gives labels, metrics (accuracy, F1, MCC, specificity, sensitivity,
    AUC, confusion matrix) and a table; files or a flat folder give predictions only.

    Example: mc-eval runs/r1/checkpoint.pt patches/val --out preds.csv --metrics metrics.json
    """
    from microcalc.trainer.evaluate import collect, evaluate
    from microcalc.trainer.metrics import binary_metrics

    if batch_size < 1:
        raise InputError(f"--batch-size must be at least 1, got {batch_size}")
    if not model.exists():
        raise InputError(f"{model}: no such checkpoint file or bundle folder")
    items = collect(list(paths))
    config, scores = evaluate(
        model,
        items,
        backend=backend,
        precision=precision,
        batch=batch_size,
        policy=fit_policy,
        device=device,
        progress=not quiet,
    )
    if out or not any(i.label for i in items):
        write_predictions(out, [(str(i.path), i.label or "", float(s)) for i, s in zip(items, scores)])
    labelled = [k for k, i in enumerate(items) if i.label is not None]
    if not labelled:
        return
    positive = positive_class or config.positive_class
    names = sorted({items[k].label for k in labelled})
    if positive not in names:
        raise InputError(
            f"{', '.join(map(str, paths))}: no class folder named '{positive}' among "
            f"{', '.join(names)}; name the cluster folder with --positive-class"
        )
    is_pos = [items[k].label == positive for k in labelled]
    metrics = {
        **binary_metrics(is_pos, scores[labelled], threshold=config.threshold),
        "positive_class": positive,
        "classes": names,
        "model": str(model),
        "backend": backend or ("auto" if model.is_dir() else "torch"),
        "precision": precision,
    }
    if metrics_file:
        metrics_file.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(metrics_file, metrics)
    if not quiet:
        from microcalc.trainer.report import print_metrics

        print_metrics(metrics, title=f"{model.name}: {len(labelled)} labelled patches")


main = run_cli(cli, "mc-eval")


if __name__ == "__main__":
    main()
