"""Accuracy parity of an exported variant against PyTorch FP32, with bounds given as arguments.

As Polygraphy's comparator: the statistics are computed by small functions, and the tolerances
are data (:class:`ParityBounds`), never constants buried in the comparison. The defaults are the
project's acceptance bounds: FP32 max |dp| <= 1e-4, FP16 max |dp| <= 1e-2, INT8 label agreement
>= 99 % and |delta AUC| <= 0.005 (INT8 moves scores more but must not move decisions).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class ParityBounds:
    """What a variant must satisfy; ``None`` leaves a statistic unchecked."""

    max_abs_diff: float | None = None
    min_label_agreement: float | None = None
    max_abs_delta_auc: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


DEFAULT_BOUNDS: dict[str, ParityBounds] = {
    "fp32": ParityBounds(max_abs_diff=1e-4),
    "fp16": ParityBounds(max_abs_diff=1e-2),
    "int8": ParityBounds(min_label_agreement=0.99, max_abs_delta_auc=0.005),
}


def auc_or_none(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC, or ``None`` when the labels hold a single class (AUC is undefined)."""
    from sklearn.metrics import roc_auc_score

    if len(np.unique(labels)) < 2:
        return None
    return float(roc_auc_score(labels, scores))


def compare(*, reference: np.ndarray, candidate: np.ndarray, labels: np.ndarray, threshold: float,
            bounds: ParityBounds) -> dict[str, Any]:
    """Parity statistics of ``candidate`` against ``reference`` scores (both ``p_cluster``, ``[n]``).

    The figures are ``mc-export``'s (:func:`microcalc.export.parity.parity_figures`), in the
    report's names: ``max_abs_diff``, ``mean_abs_diff``, ``label_agreement`` (fraction of patches
    whose decision at ``threshold`` is the same), ``auc`` (candidate, against ``labels``),
    ``reference_auc``, ``delta_auc``; then ``pass`` and ``failures`` (one line per bound broken).
    """
    from microcalc.export.parity import parity_figures

    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    candidate = np.asarray(candidate, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).reshape(-1)
    if not reference.shape == candidate.shape == labels.shape or reference.size == 0:
        raise ValueError(f"reference {reference.shape}, candidate {candidate.shape} and labels {labels.shape} "
                         "must be the same non-empty length")
    fig = parity_figures(reference, candidate, threshold=threshold, labels=labels)
    result: dict[str, Any] = {
        "max_abs_diff": fig["max_abs_diff"], "mean_abs_diff": fig["mean_abs_diff"],
        "label_agreement": fig["label_agreement"], "auc": fig.get("auc"), "reference_auc": fig.get("auc_reference"),
        "delta_auc": fig.get("auc_delta"), "patches": fig["n"], "bounds": bounds.to_dict(),
    }
    failures = verdict_failures(result, bounds)
    result["pass"] = not failures
    result["failures"] = failures
    return result


def verdict_failures(stats: dict[str, Any], bounds: ParityBounds) -> list[str]:
    """One line per bound that ``stats`` breaks (an empty list means pass)."""
    failures = []
    if bounds.max_abs_diff is not None and not stats["max_abs_diff"] <= bounds.max_abs_diff:
        failures.append(f"max |dp| {stats['max_abs_diff']:.3g} > {bounds.max_abs_diff:g}")
    if bounds.min_label_agreement is not None and not stats["label_agreement"] >= bounds.min_label_agreement:
        failures.append(f"label agreement {stats['label_agreement']:.4f} < {bounds.min_label_agreement:g}")
    if bounds.max_abs_delta_auc is not None:
        if stats["delta_auc"] is None:
            failures.append("delta AUC undefined (the patch set needs both classes)")
        elif not abs(stats["delta_auc"]) <= bounds.max_abs_delta_auc:
            failures.append(f"|delta AUC| {abs(stats['delta_auc']):.4f} > {bounds.max_abs_delta_auc:g}")
    return failures
