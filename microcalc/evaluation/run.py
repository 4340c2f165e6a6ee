"""Scan cases once with the product's scan (:func:`~microcalc.engine.session.open_scan`), then judge its
findings at every candidate threshold.

A scan's tile scores and CAMs do not depend on the threshold; the findings do (adjacent hot
tiles merge). So each image is scanned once and :func:`~microcalc.engine.findings.find_clusters`,
the function ``mc-scan`` reports with, is rerun per threshold: the curve is the product's own
behaviour at each threshold, not an approximation of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.findings import Finding, find_clusters
from microcalc.engine.geometry import ScanGeometry
from microcalc.engine.session import ScanSession
from microcalc.engine.tiler import TileGrid
from microcalc.errors import MicrocalcError
from microcalc.evaluation.froc import FrocCurve, ImageMatch, candidate_thresholds, match
from microcalc.evaluation.truth import CaseTruth


@dataclass
class ScannedCase:
    """What one scan leaves for evaluation (the pixels are dropped)."""

    path: Path
    clusters: np.ndarray  # [m, 3] row, col, radius_px
    grid: TileGrid
    scores: np.ndarray
    cams: np.ndarray
    cam_fraction: float
    geometry: ScanGeometry  # tiles and scores are in the scanned grid; findings and truth in the original

    @property
    def max_score(self) -> float:
        return float(self.scores.max()) if self.scores.size else 0.0

    def findings(self, threshold: float) -> list[Finding]:
        """What ``mc-scan`` would report for this image at ``threshold`` (in the original pixel grid)."""
        found = find_clusters(
            self.grid, self.scores, self.cams, threshold=threshold, cam_fraction=self.cam_fraction
        )
        return self.geometry.to_original(found)

    def judge(self, threshold: float) -> tuple[list[Finding], ImageMatch]:
        found = self.findings(threshold)
        boxes = np.array([[f.bbox.x0, f.bbox.y0, f.bbox.x1, f.bbox.y1] for f in found], dtype=np.float64)
        return found, match(boxes.reshape(-1, 4), np.array([f.score for f in found]), self.clusters)


def scan_cases(
    session: ScanSession,
    truths: list[CaseTruth],
    *,
    on_done: Callable[[Path, str | None], None],
) -> list[ScannedCase]:
    """Scan the session's paths (truth already read for each, in the same order); failures go to
    ``on_done(path, error)`` and are skipped, so a case that cannot be read (or whose decoder hangs
    or crashes in the session's isolated reader) costs that case only."""
    cases = []
    for result in session.scan():
        error = result.error
        if error is None:
            try:
                clusters = truths[result.index].in_pixels(result.geometry.spacing_mm, image=result.path)
            except MicrocalcError as exc:
                error = exc
        if error is not None:
            on_done(result.path, str(error))
            continue
        cases.append(
            ScannedCase(
                path=result.path,
                clusters=clusters,
                grid=result.grid,
                scores=result.scores,
                cams=result.cams,
                cam_fraction=session.plan.settings.cam_fraction,
                geometry=result.geometry,
            )
        )
        on_done(result.path, None)
    return cases


def froc_curve(cases: list[ScannedCase], *, extra_thresholds: Iterable[float] = ()) -> FrocCurve:
    """The FROC over ``cases`` at the candidate thresholds of their tile scores and ``extra_thresholds``."""
    all_scores = np.concatenate([c.scores for c in cases]) if cases else np.zeros(0)
    thresholds = np.unique(
        np.concatenate(
            [candidate_thresholds(all_scores), np.asarray(list(extra_thresholds), dtype=np.float64)]
        )
    )[::-1]
    detected = np.zeros((len(cases), thresholds.size), dtype=np.int64)
    false_pos = np.zeros_like(detected)
    for i, case in enumerate(cases):
        ordered = np.sort(case.scores)
        memo: dict[int, tuple[int, int]] = {}
        for k, t in enumerate(thresholds):
            hot = int(ordered.size - np.searchsorted(ordered, t, side="left"))  # tiles with score >= t
            if hot not in memo:  # the same hot tiles give the same findings
                m = case.judge(float(t))[1] if hot else None
                memo[hot] = (int(m.detected.sum()), m.false_positives) if m is not None else (0, 0)
            detected[i, k], false_pos[i, k] = memo[hot]
    n_clusters = int(sum(c.clusters.shape[0] for c in cases))
    return FrocCurve.from_counts(thresholds, detected, false_pos, n_clusters)


def per_image(cases: list[ScannedCase], threshold: float) -> list[dict[str, Any]]:
    """Each image's findings at ``threshold``, each marked with the cluster it hit or as a false positive."""
    out = []
    for case in cases:
        found, m = case.judge(threshold)
        out.append(
            {
                "input": str(case.path),
                "clusters": int(case.clusters.shape[0]),
                "max_score": case.max_score,
                "detected": int(m.detected.sum()),
                "false_positives": m.false_positives,
                "findings": [
                    {
                        "bbox_px": f.bbox.to_dict(),
                        "score": f.score,
                        "tiles": f.tiles,
                        "cluster": None if c < 0 else int(c),
                    }
                    for f, c in zip(found, m.claimed)
                ],
                "missed_clusters": [
                    {"row": float(r), "col": float(col), "radius_px": float(rad)}
                    for (r, col, rad), hit in zip(case.clusters, m.detected)
                    if not hit
                ],
            }
        )
    return out
