"""Cluster-vs-rest metrics from scikit-learn (never hand-written formulas).

The paper reports accuracy, F1, MCC, specificity and sensitivity; the field also reports ROC
AUC. All are computed for the positive (cluster) class against every other class, at the
model's decision threshold on ``p_cluster``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from microcalc.operating_points import OperatingPoints, patch_points

METRIC_KEYS = ("accuracy", "f1", "mcc", "specificity", "sensitivity", "auc")


def binary_metrics(is_positive: np.ndarray, p_cluster: np.ndarray, *, threshold: float) -> dict[str, Any]:
    """Metrics for ``is_positive`` (bool ``[N]``) given scores ``p_cluster`` (``[N]``).

    Returns the keys of :data:`METRIC_KEYS` plus ``confusion_matrix`` (``[[TN, FP], [FN, TP]]``,
    scikit-learn's layout with the cluster class as 1), ``threshold`` and ``n``. ``auc`` is
    ``None`` when only one class is present.
    """
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        matthews_corrcoef,
        recall_score,
        roc_auc_score,
    )

    y = np.asarray(is_positive).astype(int)
    p = np.asarray(p_cluster, dtype=np.float64)
    pred = (p >= threshold).astype(int)
    both = len(np.unique(y)) == 2
    return {
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "mcc": float(matthews_corrcoef(y, pred)),
        "specificity": float(recall_score(y, pred, pos_label=0, zero_division=0)),
        "sensitivity": float(recall_score(y, pred, pos_label=1, zero_division=0)),
        "auc": float(roc_auc_score(y, p)) if both else None,
        "confusion_matrix": confusion_matrix(y, pred, labels=[0, 1]).tolist(),
        "threshold": float(threshold),
        "n": len(y),
    }


def summarise(runs: list[dict[str, Any]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and standard deviation of each metric over runs (cross-validation folds)."""
    mean, std = {}, {}
    for key in METRIC_KEYS:
        values = np.array([r[key] for r in runs if r.get(key) is not None], dtype=np.float64)
        if values.size:
            mean[key], std[key] = float(values.mean()), float(values.std(ddof=1) if values.size > 1 else 0.0)
    return mean, std


def validation_points(is_pos: np.ndarray, scores: np.ndarray) -> OperatingPoints:
    """Patch-level operating points from validation scores (none when validation has one class)."""
    if scores.size == 0 or is_pos.all() or not is_pos.any():
        return OperatingPoints()
    return patch_points(is_pos, scores)


def metrics_at_points(is_pos: np.ndarray, scores: np.ndarray) -> dict[str, Any]:
    """The metrics at the default operating point (top level) and at each point (``operating_points``).

    The per-epoch figures use the fixed 0.5 and are kept under ``at_0.5``.
    """
    points = validation_points(is_pos, scores)
    if not points:
        return {}
    at = {
        p.name: {**binary_metrics(is_pos, scores, threshold=p.threshold), "criterion": p.criterion}
        for p in points.points
    }
    return {
        **binary_metrics(is_pos, scores, threshold=points.get(points.default).threshold),
        "operating_point": points.default,
        "operating_points": at,
        "at_0.5": binary_metrics(is_pos, scores, threshold=0.5),
    }
