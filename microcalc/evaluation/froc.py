"""FROC: cluster sensitivity against false positives per image, the field's own detection metric.

numpy only, on plain arrays, so the rules can be checked on hand-made cases:

* A finding (box ``x0, y0, x1, y1``, end-exclusive, and a score) **hits** a ground-truth cluster
  (``row, col, radius`` in pixels) when its box contains the cluster's centre, or when the box's
  centre lies within the cluster's radius of it.
* One hit per cluster: findings are taken highest score first, each claims the nearest cluster it
  hits that no earlier finding claimed. **Every other finding is a false positive**, including a
  second finding on a cluster already claimed and every finding on a normal image.
* The curve is computed per threshold from the findings the product reports at that threshold
  (tiles merge into findings differently at each threshold, so they are recomputed, not filtered).
* ``fp_limit_index``: the lowest threshold at which no threshold above it exceeds the false
  positive budget; sensitivity at ``k`` FP/image and the calibrated ``fpK`` points both use it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FP_TARGETS = (0.1, 0.25, 0.5, 1.0, 2.0)
_EXACT, _COARSE = 400, 60
_LOW, _HIGH = 1e-6, 1.0 - 1e-7  # the scanner takes thresholds inside (0, 1)


@dataclass(frozen=True)
class ImageMatch:
    """How one image's findings met its clusters."""

    claimed: np.ndarray  # int [n_findings]: index of the cluster each finding hit, -1 = false positive
    detected: np.ndarray  # bool [n_clusters]

    @property
    def false_positives(self) -> int:
        return int((self.claimed < 0).sum())


def hits(boxes: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """bool ``[n_findings, n_clusters]``: which finding hits which cluster (module docstring).

    Args:
        boxes: float ``[n, 4]`` as ``x0, y0, x1, y1`` (x = column, y = row, end-exclusive).
        clusters: float ``[m, 3]`` as ``row, col, radius`` in pixels.
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    clusters = np.asarray(clusters, dtype=np.float64).reshape(-1, 3)
    x0, y0, x1, y1 = (boxes[:, i : i + 1] for i in range(4))
    row, col, radius = (clusters[None, :, i] for i in range(3))
    inside = (x0 <= col) & (col < x1) & (y0 <= row) & (row < y1)
    near = np.hypot((x0 + x1) / 2.0 - col, (y0 + y1) / 2.0 - row) <= radius
    return inside | near


def match(boxes: np.ndarray, scores: np.ndarray, clusters: np.ndarray) -> ImageMatch:
    """Match one image's findings to its clusters: one hit per cluster, the rest false positives."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    clusters = np.asarray(clusters, dtype=np.float64).reshape(-1, 3)
    hit = hits(boxes, clusters)
    centres = np.stack([(boxes[:, 1] + boxes[:, 3]) / 2.0, (boxes[:, 0] + boxes[:, 2]) / 2.0], axis=1)
    claimed = np.full(boxes.shape[0], -1, dtype=np.int64)
    detected = np.zeros(clusters.shape[0], dtype=bool)
    for f in np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable"):
        free = np.flatnonzero(hit[f] & ~detected)
        if free.size:
            distance = np.hypot(*(clusters[free, :2] - centres[f]).T)
            c = int(free[np.argmin(distance)])
            claimed[f], detected[c] = c, True
    return ImageMatch(claimed=claimed, detected=detected)


def candidate_thresholds(scores: np.ndarray) -> np.ndarray:
    """Thresholds to evaluate, descending: every distinct tile score among the top ``_EXACT`` (the
    low false-positive end, where operating points live), quantiles below, and one above the top
    score (no findings) when the scanner accepts it."""
    s = np.unique(np.clip(np.asarray(scores, dtype=np.float64).ravel(), _LOW, _HIGH))[::-1]
    if s.size == 0:
        return s
    exact, rest = s[:_EXACT], s[_EXACT:]
    coarse = np.quantile(rest, np.linspace(1.0, 0.0, _COARSE)) if rest.size > _COARSE else rest
    top = [(s[0] + 1.0) / 2.0] if s[0] < _HIGH else []
    return np.unique(np.concatenate([top, exact, coarse]))[::-1]


@dataclass(frozen=True)
class FrocCurve:
    """Per-threshold totals over a set of images (thresholds descending)."""

    thresholds: np.ndarray
    sensitivity: np.ndarray
    fp_per_image: np.ndarray
    n_images: int
    n_clusters: int

    @classmethod
    def from_counts(
        cls, thresholds: np.ndarray, detected: np.ndarray, false_positives: np.ndarray, n_clusters: int
    ) -> FrocCurve:
        """``detected``/``false_positives``: int ``[n_images, n_thresholds]`` per image and threshold."""
        n_images = detected.shape[0]
        sens = detected.sum(axis=0) / n_clusters if n_clusters else np.full(len(thresholds), np.nan)
        return cls(
            thresholds=np.asarray(thresholds, dtype=np.float64),
            sensitivity=np.asarray(sens, np.float64),
            fp_per_image=false_positives.sum(axis=0) / max(n_images, 1),
            n_images=n_images,
            n_clusters=n_clusters,
        )

    def fp_limit_index(self, target: float) -> int | None:
        """Index of the lowest threshold with at most ``target`` FP/image there and at every higher
        threshold; ``None`` when even the highest threshold exceeds it."""
        over = np.flatnonzero(self.fp_per_image > target + 1e-12)
        last = (over[0] if over.size else len(self.thresholds)) - 1
        return None if last < 0 else int(last)

    def at_fp(self, target: float) -> dict[str, float] | None:
        """Threshold, sensitivity and FP/image at the ``target`` budget (``None``: out of reach)."""
        k = self.fp_limit_index(target)
        if k is None:
            return None
        return {
            "threshold": float(self.thresholds[k]),
            "sensitivity": float(self.sensitivity[k]),
            "fp_per_image": float(self.fp_per_image[k]),
        }

    def at_threshold(self, threshold: float) -> dict[str, float]:
        """Figures at the lowest evaluated threshold that is still >= ``threshold`` (the same
        decisions when ``threshold`` lies between two evaluated ones in the exact range)."""
        at_or_above = np.flatnonzero(self.thresholds >= threshold - 1e-12)
        k = int(at_or_above[-1]) if at_or_above.size else 0
        return {
            "threshold": float(self.thresholds[k]),
            "sensitivity": float(self.sensitivity[k]),
            "fp_per_image": float(self.fp_per_image[k]),
        }


def image_auc(max_scores: np.ndarray, has_cluster: np.ndarray) -> float | None:
    """ROC AUC of the image's highest tile score, images with clusters against normal images
    (Mann-Whitney, ties count one half); ``None`` without both kinds of image."""
    s = np.asarray(max_scores, dtype=np.float64)
    y = np.asarray(has_cluster, dtype=bool)
    pos, neg = s[y], s[~y]
    if pos.size == 0 or neg.size == 0:
        return None
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (pos.size * neg.size))
