"""Operating points: chosen from scores, resolved for a scan, carried through dicts."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.errors import InputError
from microcalc.operating_points import OperatingPoint, OperatingPoints, choose, patch_points, point_label


def test_patch_points_on_a_separable_set_sit_between_the_classes():
    y = np.array([1, 1, 1, 0, 0, 0], dtype=bool)
    s = np.array([0.95, 0.9, 0.8, 0.3, 0.2, 0.1])
    points = patch_points(y, s)
    assert points.default == "youden" and points.names == ["youden", "sens0.95", "spec0.95"]
    youden = points.get("youden")
    assert youden.threshold == pytest.approx(0.55)  # midway between 0.8 and 0.3
    assert youden.measured["sensitivity"] == 1.0 and youden.measured["specificity"] == 1.0


def test_patch_points_on_overlapping_scores():
    # 20 positives 0.50..0.69 and 20 negatives 0.40..0.59 (overlap 0.50..0.59)
    pos, neg = np.arange(50, 70) / 100, np.arange(40, 60) / 100
    y = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    points = patch_points(y, np.r_[pos, neg])
    sens = points.get("sens0.95")
    assert (
        sens.measured["sensitivity"] >= 0.95
        and (pos >= sens.threshold).mean() == sens.measured["sensitivity"]
    )
    spec = points.get("spec0.95")
    assert (
        spec.measured["specificity"] >= 0.95 and (neg < spec.threshold).mean() == spec.measured["specificity"]
    )
    assert sens.threshold < points.get("youden").threshold <= spec.threshold


def test_points_round_trip_and_merge():
    points = patch_points(np.array([1, 0], bool), np.array([0.9, 0.1]))
    assert OperatingPoints.from_dict(points.to_dict()) == points
    image = OperatingPoint(name="fp0.25", threshold=0.97, level="image", criterion="test")
    merged = points.merged([image], default="fp0.25")
    assert merged.default == "fp0.25" and merged.names[-1] == "fp0.25" and len(merged.points) == 4
    assert OperatingPoints.from_dict(None) == OperatingPoints() and not OperatingPoints()


def test_choose():
    points = patch_points(np.array([1, 0], bool), np.array([0.9, 0.1]))
    default = choose(points)
    assert (default.name, default.threshold, default.calibrated) == ("youden", 0.5, True)
    assert choose(points, name="spec0.95").name == "spec0.95"
    fixed = choose(points, threshold=0.7)
    assert fixed.name is None and fixed.threshold == 0.7 and "threshold 0.7" in point_label(fixed.to_dict())
    fallback = choose(OperatingPoints(), fallback=0.5)
    assert fallback.threshold == 0.5 and not fallback.calibrated
    assert (
        "uncalibrated" in point_label(fallback.to_dict())
        and "no operating points" in fallback.to_dict()["source"]
    )
    with pytest.raises(InputError, match="no operating point 'fp9'; this model has: youden"):
        choose(points, name="fp9")
    with pytest.raises(InputError, match="not both"):
        choose(points, name="youden", threshold=0.3)
    with pytest.raises(InputError, match=r"\(0, 1\)"):
        choose(points, threshold=1.5)


def test_identify_names_the_point_from_its_threshold_alone():
    """mc-scan --ray actors get only the threshold: the report still names the point."""
    from microcalc.operating_points import identify

    points = patch_points(np.array([1, 1, 0, 0], bool), np.array([0.9, 0.6, 0.4, 0.1]))
    youden = points.get("youden")
    assert identify(points, youden.threshold).name == "youden"  # the default wins a shared threshold
    assert identify(points, 0.77).name is None
    assert not identify(OperatingPoints(), 0.5, fallback=0.5).calibrated
    assert points.manifest_entries(fallback=0.5) == {
        "threshold": youden.threshold,
        "operating_points": points.to_dict(),
    }
    assert OperatingPoints().manifest_entries(fallback=0.5) == {"threshold": 0.5}
