"""What ``mc-train`` runs around a single fit: validation split, K folds, LR x WD sweeps, mining.

Composite runs keep each sub-run in its own folder (``fold_K/``, ``lr{a}_wd{b}/``,
``round_R/``) and copy the chosen one's files to the top of the run folder, so ``RUN/checkpoint.pt``
is always the model to export.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.atomic import atomic_path, write_json_atomic, write_text_atomic
from microcalc.errors import InputError
from microcalc.trainer.data import PatchSet, stratified_split
from microcalc.trainer.distributed import Dist
from microcalc.trainer.fit import TrainOptions, fit
from microcalc.trainer.metrics import METRIC_KEYS, summarise
from microcalc.trainer.mining import fit_with_hard_negatives

RUN_FILES = ("checkpoint.pt", "last.pt", "history.csv", "roc.png", "curves.png")


@dataclass(frozen=True)
class Plan:
    """How to split and repeat training (everything beyond one fit's options)."""

    val_fraction: float = 0.2
    folds: int = 0
    sweep_lr: tuple[float, ...] = ()
    sweep_wd: tuple[float, ...] = ()
    hard_negatives: int = 0
    negative_pool: Path | None = None
    per_round: int = 0
    resume: bool = False


def promote(src: Path, dst: Path, metrics: dict[str, Any], dist: Dist) -> None:
    """Copy a sub-run's files to ``dst`` (atomically, file by file) and write ``dst/metrics.json``."""
    if dist.main:
        for name in RUN_FILES:
            if (src / name).is_file():
                with atomic_path(dst / name) as tmp:
                    shutil.copy2(src / name, tmp)
        write_json_atomic(dst / "metrics.json", metrics)
    dist.barrier()


def _single(train: PatchSet, val: PatchSet, opts: TrainOptions, out: Path, plan: Plan, dist: Dist) -> dict:
    if plan.hard_negatives <= 0:
        return fit(train, val, opts, out, dist=dist, resume=plan.resume)[0]
    if plan.negative_pool is None:
        raise InputError("--hard-negatives needs --negative-pool DIR")
    metrics, last_dir = fit_with_hard_negatives(
        train,
        val,
        opts,
        out,
        rounds=plan.hard_negatives,
        pool_dir=plan.negative_pool,
        per_round=plan.per_round,
        dist=dist,
        resume=plan.resume,
    )
    promote(last_dir, out, metrics, dist)
    return metrics


def _folds(data: PatchSet, opts: TrainOptions, out: Path, plan: Plan, dist: Dist) -> dict:
    """Stratified K-fold cross-validation; the best fold (by AUC) is promoted."""
    from sklearn.model_selection import StratifiedKFold

    labels = data.labels
    if np.bincount(labels).min() < plan.folds:
        raise InputError(
            f"--folds {plan.folds} needs at least {plan.folds} patches per class, "
            f"got {np.bincount(labels).tolist()}"
        )
    splitter = StratifiedKFold(n_splits=plan.folds, shuffle=True, random_state=opts.seed)
    runs = []
    for k, (tr, va) in enumerate(splitter.split(np.zeros(len(labels)), labels)):
        runs.append(_single(data.subset(tr), data.subset(va), opts, out / f"fold_{k}", plan, dist))
    mean, std = summarise(runs)
    best = int(np.argmax([r.get("auc") or r["accuracy"] for r in runs]))
    metrics = {
        **mean,
        "std": std,
        "confusion_matrix": np.sum([r["confusion_matrix"] for r in runs], axis=0).tolist(),
        "threshold": opts.threshold,
        "folds": plan.folds,
        "best_fold": best,
        "per_fold": [{k: r.get(k) for k in (*METRIC_KEYS, "best_epoch", "n_train", "n_val")} for r in runs],
        "options": opts.record(),
    }
    promote(out / f"fold_{best}", out, metrics, dist)
    return metrics


def _once(
    data: PatchSet, val: PatchSet | None, opts: TrainOptions, out: Path, plan: Plan, dist: Dist
) -> dict:
    if plan.folds:
        if val is not None:
            raise InputError(
                "--folds and --val-dir exclude each other (folds make their own validation sets)"
            )
        return _folds(data, opts, out, plan, dist)
    if val is None:
        tr, va = stratified_split(data.labels, fraction=plan.val_fraction, seed=opts.seed)
        data, val = data.subset(tr), data.subset(va)
    return _single(data, val, opts, out, plan, dist)


def run(
    data: PatchSet, val: PatchSet | None, opts: TrainOptions, out: Path, plan: Plan, dist: Dist | None = None
) -> dict[str, Any]:
    """Train as ``plan`` says; returns the metrics written to ``out/metrics.json``."""
    dist = dist or Dist()
    if not (plan.sweep_lr or plan.sweep_wd):
        return _once(data, val, opts, out, plan, dist)
    rows = []
    for lr in plan.sweep_lr or (opts.lr,):
        for wd in plan.sweep_wd or (opts.weight_decay,):
            cell = out / f"lr{lr:g}_wd{wd:g}"
            m = _once(data, val, replace(opts, lr=lr, weight_decay=wd), cell, plan, dist)
            rows.append(
                {
                    "lr": lr,
                    "weight_decay": wd,
                    **{k: m.get(k) for k in METRIC_KEYS},
                    "best_epoch": m.get("best_epoch"),
                    "run": cell.name,
                }
            )
    best = max(
        range(len(rows)), key=lambda i: rows[i]["auc"] if rows[i]["auc"] is not None else rows[i]["accuracy"]
    )
    if dist.main:
        write_table(out, rows)
    best_metrics = json.loads((out / rows[best]["run"] / "metrics.json").read_text())
    metrics = {**best_metrics, "sweep": rows, "best_run": rows[best]["run"]}
    promote(out / rows[best]["run"], out, metrics, dist)
    return metrics


def write_table(out: Path, rows: list[dict]) -> None:
    """``sweep.csv`` and ``sweep.md``: one row per (learning rate, weight decay)."""
    fields = list(rows[0])
    with atomic_path(out / "sweep.csv") as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)

    def cell(v: Any) -> str:
        return (
            ""
            if v is None
            else f"{v:.4f}"
            if isinstance(v, float) and v >= 1e-2
            else f"{v:g}"
            if isinstance(v, float)
            else str(v)
        )

    lines = ["| " + " | ".join(fields) + " |", "|" + "---|" * len(fields)]
    lines += ["| " + " | ".join(cell(r[k]) for k in fields) + " |" for r in rows]
    write_text_atomic(out / "sweep.md", "\n".join(lines) + "\n")
