"""FROC rules on hand-made cases: what counts as a hit, one hit per cluster, false positives."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.evaluation.froc import FrocCurve, candidate_thresholds, hits, image_auc, match

# one cluster at row 100, col 200, radius 30 px
CLUSTER = np.array([[100.0, 200.0, 30.0]])


@pytest.mark.parametrize(
    "box, hit",
    [
        ((180, 80, 220, 120), True),  # box contains the centre
        ((150, 50, 170, 70), False),  # box beside the cluster, its centre 43 px away: outside the radius
        (
            (205, 105, 230, 130),
            True,
        ),  # box does not contain the centre, but its centre (217, 117) is 24 px away
        ((200, 100, 240, 140), True),  # centre on the box's top-left corner (boxes include x0, y0)
        (
            (160, 60, 200, 100),
            True,
        ),  # centre on the end-exclusive corner (not contained), box centre 28.3 px away
        ((100, 100, 140, 140), False),  # far away and not containing
    ],
)
def test_hit_rule(box, hit):
    assert bool(hits(np.array([box]), CLUSTER)[0, 0]) is hit


def test_two_findings_on_one_cluster_count_one_hit_and_one_false_positive():
    boxes = np.array([[180, 80, 220, 120], [190, 90, 210, 110]], dtype=float)
    m = match(boxes, np.array([0.7, 0.9]), CLUSTER)
    assert m.detected.tolist() == [True]
    assert m.claimed.tolist() == [-1, 0]  # the higher-scoring finding claims the cluster
    assert m.false_positives == 1


def test_finding_on_a_normal_image_is_a_false_positive():
    m = match(np.array([[10, 10, 50, 50]], dtype=float), np.array([0.99]), np.zeros((0, 3)))
    assert m.false_positives == 1 and m.detected.size == 0


def test_finding_that_misses_leaves_the_cluster_undetected():
    m = match(np.array([[400, 400, 450, 450]], dtype=float), np.array([0.8]), CLUSTER)
    assert m.detected.tolist() == [False] and m.false_positives == 1


def test_one_finding_covering_two_clusters_claims_the_nearest_only():
    clusters = np.array([[100.0, 100.0, 10.0], [100.0, 160.0, 10.0]])
    m = match(np.array([[90, 90, 180, 110]], dtype=float), np.array([0.9]), clusters)  # box centre x=135
    assert m.detected.tolist() == [False, True] and m.false_positives == 0


def test_no_findings():
    m = match(np.zeros((0, 4)), np.zeros(0), CLUSTER)
    assert m.detected.tolist() == [False] and m.false_positives == 0


def test_curve_totals_and_fp_budget():
    # 4 images, 2 clusters in all; thresholds descending
    thresholds = np.array([0.9, 0.8, 0.6, 0.4])
    detected = np.array([[1, 1, 1, 1], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
    false_pos = np.array([[0, 0, 0, 1], [0, 0, 0, 2], [0, 1, 0, 1], [0, 0, 1, 2]])
    curve = FrocCurve.from_counts(thresholds, detected, false_pos, n_clusters=2)
    assert curve.sensitivity.tolist() == [0.5, 0.5, 1.0, 1.0]
    assert curve.fp_per_image.tolist() == [0.0, 0.25, 0.25, 1.5]
    assert curve.at_fp(0.25) == {"threshold": 0.6, "sensitivity": 1.0, "fp_per_image": 0.25}
    assert curve.at_fp(0.1) == {"threshold": 0.9, "sensitivity": 0.5, "fp_per_image": 0.0}
    assert curve.at_fp(2.0)["threshold"] == 0.4
    assert curve.at_threshold(0.8)["fp_per_image"] == 0.25


def test_budget_out_of_reach_and_not_monotone():
    thresholds = np.array([0.9, 0.7, 0.5])
    # false positives drop at 0.5 (two findings merged): the budget stops at the first excess
    curve = FrocCurve.from_counts(thresholds, np.zeros((1, 3), int), np.array([[1, 3, 1]]), n_clusters=1)
    assert curve.at_fp(0.5) is None
    assert curve.at_fp(1.0)["threshold"] == 0.9


def test_candidate_thresholds_stay_inside_the_scanners_range():
    t = candidate_thresholds(np.array([1.0, 1.0, 0.5, 0.0]))
    assert (t > 0).all() and (t < 1).all() and np.all(np.diff(t) < 0)
    assert candidate_thresholds(np.array([0.3, 0.6]))[0] == pytest.approx(
        0.8
    )  # above the top score: no findings


def test_image_auc():
    assert image_auc(np.array([0.9, 0.8, 0.3, 0.8]), np.array([True, True, False, False])) == 0.875
    assert image_auc(np.array([0.9]), np.array([True])) is None
