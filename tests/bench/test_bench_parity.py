"""Parity verdicts against hand-computed statistics, bounds passed as arguments."""

import numpy as np
import pytest

from microcalc.bench.parity import DEFAULT_BOUNDS, ParityBounds, compare

LABELS = np.array([1, 1, 1, 0, 0, 0])
REFERENCE = np.array([0.9, 0.8, 0.6, 0.4, 0.2, 0.1])


@pytest.mark.parametrize("precision, candidate, passes", [
    ("fp32", REFERENCE + 5e-5, True),                                # within 1e-4
    ("fp32", REFERENCE + 2e-4, False),                               # FP32 bound is 1e-4
    ("fp16", REFERENCE - 5e-3, True),                                # within 1e-2
    ("fp16", REFERENCE * 1.2, False),                                # 0.18 off at the top
    ("int8", np.array([0.95, 0.7, 0.55, 0.45, 0.3, 0.05]), True),   # same decisions, same ranking
    ("int8", np.array([0.9, 0.8, 0.4, 0.6, 0.2, 0.1]), False),      # two decisions flip, AUC drops
])
def test_default_bounds(precision, candidate, passes):
    result = compare(reference=REFERENCE, candidate=candidate, labels=LABELS, threshold=0.5,
                     bounds=DEFAULT_BOUNDS[precision])
    assert result["pass"] is passes
    assert bool(result["failures"]) is not passes


def test_statistics_are_exact():
    candidate = np.array([0.9, 0.8, 0.4, 0.6, 0.2, 0.1])  # patches 3 and 4 swapped around 0.5
    r = compare(reference=REFERENCE, candidate=candidate, labels=LABELS, threshold=0.5, bounds=ParityBounds())
    assert r["max_abs_diff"] == pytest.approx(0.2)
    assert r["mean_abs_diff"] == pytest.approx(0.4 / 6)
    assert r["label_agreement"] == pytest.approx(4 / 6)
    assert r["reference_auc"] == 1.0
    assert r["auc"] == pytest.approx(8 / 9)  # one of 9 positive/negative pairs misordered
    assert r["delta_auc"] == pytest.approx(-1 / 9)
    assert r["pass"] is True  # no bound given, nothing to break


def test_auc_needs_both_classes():
    r = compare(reference=REFERENCE, candidate=REFERENCE, labels=np.ones(6, int), threshold=0.5,
                bounds=DEFAULT_BOUNDS["int8"])
    assert r["auc"] is None and r["delta_auc"] is None
    assert r["pass"] is False and "undefined" in r["failures"][0]


def test_length_mismatch_is_refused():
    with pytest.raises(ValueError, match="same non-empty length"):
        compare(reference=REFERENCE, candidate=REFERENCE[:3], labels=LABELS, threshold=0.5, bounds=ParityBounds())
