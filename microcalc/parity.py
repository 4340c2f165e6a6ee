"""Parity of an exported variant against the PyTorch FP32 model: the bounds as data, one verdict.

As Polygraphy's comparator, the statistics are small functions and the tolerances are data
(:class:`ParityBounds`), never constants buried in the comparison. :data:`BOUNDS` holds the
project's acceptance bounds, the same for ``mc-export`` (which refuses a variant outside them)
and ``mc-bench`` (which marks it FAIL):

* FP32: max |dp| <= 1e-4;
* FP16: max |dp| <= 1e-2 (BF16, which only the torch backend runs on CUDA: 3e-2);
* INT8: label agreement at the threshold >= 99 % and |delta AUC| <= 0.005 (INT8 moves scores
  more than FP16 but must not move decisions or the ranking).

:func:`compare` returns a :class:`ParityVerdict`; its ``to_dict()`` (with ``passed``) is what
``bundle.json`` records per variant and what automatic precision selection trusts. numpy only:
the engine may import it.
"""

from __future__ import annotations

from collections.abc import Mapping
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


BOUNDS: dict[str, ParityBounds] = {
    "fp32": ParityBounds(max_abs_diff=1e-4),
    "fp16": ParityBounds(max_abs_diff=1e-2),
    "bf16": ParityBounds(max_abs_diff=3e-2),  # torch on CUDA only (mc-bench torch-cuda): 8 mantissa bits
    "int8": ParityBounds(min_label_agreement=0.99, max_abs_delta_auc=0.005),
}


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float | None:
    """ROC AUC (Mann-Whitney U with average ranks for ties), or ``None`` unless ``labels`` are all
    known (0 or 1) and hold both classes.

    Example: ``roc_auc(np.array([0, 0, 1]), np.array([0.1, 0.4, 0.35]))`` is 0.5.
    """
    labels = np.asarray(labels).reshape(-1)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    positives = int((labels == 1).sum())
    negatives = int((labels == 0).sum())
    if positives == 0 or negatives == 0 or positives + negatives != labels.size:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based rank, ties share their mean
    rank_sum = float(average_rank[inverse][labels == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


@dataclass(frozen=True)
class ParityVerdict:
    """The statistics of one variant against the reference, the bounds applied, and the outcome.

    ``failures`` has one line per bound broken or not checkable (a delta-AUC bound on a set
    without labels of both classes); ``passed`` is true only when it is empty.
    """

    patches: int
    threshold: float
    max_abs_diff: float
    mean_abs_diff: float
    label_agreement: float
    auc: float | None
    reference_auc: float | None
    delta_auc: float | None
    bounds: ParityBounds
    failures: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        """The record ``bundle.json`` and the ``mc-bench`` report keep (JSON types only)."""
        return {
            **asdict(self),
            "bounds": self.bounds.to_dict(),
            "failures": list(self.failures),
            "passed": self.passed,
        }


def compare(
    *,
    reference: np.ndarray,
    candidate: np.ndarray,
    threshold: float,
    bounds: ParityBounds,
    labels: np.ndarray | None = None,
) -> ParityVerdict:
    """Compare ``candidate`` with ``reference`` scores (both ``p_cluster``, ``[n]``) against ``bounds``.

    ``label_agreement`` is the fraction of patches whose decision at ``threshold`` is the same;
    AUCs need ``labels`` (1 cluster, 0 not, -1 unknown) that are all known and hold both classes.

    Raises:
        ValueError: the arrays differ in length or are empty.
    """
    reference = np.asarray(reference, dtype=np.float64).reshape(-1)
    candidate = np.asarray(candidate, dtype=np.float64).reshape(-1)
    labels = np.full(reference.shape, -1) if labels is None else np.asarray(labels).reshape(-1)
    if not reference.shape == candidate.shape == labels.shape or reference.size == 0:
        raise ValueError(
            f"reference {reference.shape}, candidate {candidate.shape} and labels "
            f"{labels.shape} must be the same non-empty length"
        )
    diff = np.abs(candidate - reference)
    auc, reference_auc = roc_auc(labels, candidate), roc_auc(labels, reference)
    stats = {
        "patches": int(reference.size),
        "threshold": float(threshold),
        "max_abs_diff": float(diff.max()),
        "mean_abs_diff": float(diff.mean()),
        "label_agreement": float(np.mean((reference >= threshold) == (candidate >= threshold))),
        "auc": auc,
        "reference_auc": reference_auc,
        "delta_auc": None if auc is None or reference_auc is None else auc - reference_auc,
    }
    return ParityVerdict(**stats, bounds=bounds, failures=tuple(_failures(stats, bounds)))


def _failures(stats: dict[str, Any], bounds: ParityBounds) -> list[str]:
    failures = []
    if bounds.max_abs_diff is not None and not stats["max_abs_diff"] <= bounds.max_abs_diff:
        failures.append(f"max |dp| {stats['max_abs_diff']:.3g} > {bounds.max_abs_diff:g}")
    if bounds.min_label_agreement is not None and not stats["label_agreement"] >= bounds.min_label_agreement:
        failures.append(f"label agreement {stats['label_agreement']:.4f} < {bounds.min_label_agreement:g}")
    if bounds.max_abs_delta_auc is not None:
        if stats["delta_auc"] is None:
            failures.append("delta AUC undefined (the patch set needs labels of both classes)")
        elif not abs(stats["delta_auc"]) <= bounds.max_abs_delta_auc:
            failures.append(f"|delta AUC| {abs(stats['delta_auc']):.4f} > {bounds.max_abs_delta_auc:g}")
    return failures


def not_checked(reason: str) -> dict[str, Any]:
    """The record of a variant whose parity was not measured (``mc-export --no-parity``)."""
    return {"passed": False, "failures": [f"not checked ({reason})"]}


def recorded_pass(record: Mapping[str, Any]) -> bool:
    """Whether a variant's recorded parity says it passed; a record without ``passed`` did not."""
    return record.get("passed") is True


def failure_reason(record: Mapping[str, Any]) -> str:
    """Why a recorded verdict did not pass, in words (``"parity not recorded"`` for old bundles)."""
    if "passed" not in record:
        return "parity not recorded"
    return "; ".join(record.get("failures") or []) or "parity failed"
