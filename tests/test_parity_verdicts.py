"""microcalc.parity: verdicts against hand-computed statistics, the one set of bounds export and bench use."""

import numpy as np
import pytest

from microcalc.parity import BOUNDS, ParityBounds, compare, not_checked, recorded_pass, roc_auc

LABELS = np.array([1, 1, 1, 0, 0, 0])
REFERENCE = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])


@pytest.mark.parametrize(
    "precision, candidate, passes",
    [
        ("fp32", REFERENCE + 5e-5, True),  # within 1e-4
        ("fp32", REFERENCE + 2e-4, False),  # FP32 bound is 1e-4
        ("fp16", REFERENCE - 5e-3, True),  # within 1e-2
        ("fp16", REFERENCE * 1.2, False),  # 0.18 off at the top
        ("int8", np.array([0.95, 0.7, 0.55, 0.45, 0.3, 0.05]), True),  # same decisions, same ranking
        ("int8", np.array([0.9, 0.8, 0.4, 0.6, 0.2, 0.1]), False),  # two decisions flip, AUC drops
    ],
)
def test_default_bounds(precision, candidate, passes):
    verdict = compare(
        reference=REFERENCE, candidate=candidate, labels=LABELS, threshold=0.5, bounds=BOUNDS[precision]
    )
    assert verdict.passed is passes
    assert bool(verdict.failures) is not passes
    assert verdict.to_dict()["passed"] is passes


def test_statistics_are_exact():
    candidate = np.array([0.9, 0.8, 0.4, 0.6, 0.2, 0.1])  # patches 3 and 4 swapped around 0.5
    v = compare(reference=REFERENCE, candidate=candidate, labels=LABELS, threshold=0.5, bounds=ParityBounds())
    assert v.max_abs_diff == pytest.approx(0.2)
    assert v.mean_abs_diff == pytest.approx(0.4 / 6)
    assert v.label_agreement == pytest.approx(4 / 6)
    assert v.reference_auc == 1.0
    assert v.auc == pytest.approx(8 / 9)  # one of 9 positive/negative pairs misordered
    assert v.delta_auc == pytest.approx(-1 / 9)
    assert v.passed is True  # no bound given, nothing to break


@pytest.mark.parametrize(
    "labels, scores, expected",
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4], 1.0),  # perfectly ranked
        ([0, 0, 1], [0.1, 0.4, 0.35], 0.5),  # one of two pairs ordered
        ([0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5], 0.5),  # all tied: ties count half
        ([0, 1, -1], [0.1, 0.9, 0.5], None),  # an unknown label: undefined
        ([1, 1, 1], [0.1, 0.2, 0.3], None),  # one class: undefined
    ],
)
def test_roc_auc_matches_scikit_learn(labels, scores, expected):
    assert roc_auc(np.array(labels), np.array(scores)) == expected
    if expected is not None:
        from sklearn.metrics import roc_auc_score

        assert roc_auc_score(labels, scores) == pytest.approx(expected)


def test_int8_delta_auc_needs_labels_of_both_classes():
    for labels in (np.ones(6, int), None):  # one class; no labels at all (an unlabelled folder)
        v = compare(
            reference=REFERENCE, candidate=REFERENCE, labels=labels, threshold=0.5, bounds=BOUNDS["int8"]
        )
        assert v.auc is None and v.delta_auc is None
        assert v.passed is False and "undefined" in v.failures[0]


def test_only_a_recorded_pass_counts():
    verdict = compare(
        reference=REFERENCE, candidate=REFERENCE, labels=LABELS, threshold=0.5, bounds=BOUNDS["fp32"]
    )
    assert recorded_pass(verdict.to_dict())
    assert not recorded_pass(not_checked("mc-export --no-parity"))
    assert not recorded_pass({"max_abs_diff": 0.0})  # a bundle from before verdicts were recorded


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="same non-empty length"):
        compare(
            reference=REFERENCE, candidate=REFERENCE[:3], labels=LABELS, threshold=0.5, bounds=ParityBounds()
        )
