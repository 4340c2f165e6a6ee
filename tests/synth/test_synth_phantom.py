"""Phantoms: determinism, ground truth inside image and breast, visible specks, anatomy by view."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.synth.phantom import make_mammogram, make_phantom

SMALL = {"rows": 1024, "cols": 832, "spacing_mm": 0.14}  # a whole breast at half the detector resolution


@pytest.fixture(scope="module")
def cc():
    return make_phantom(seed=11, clusters=3, **SMALL)


def test_same_seed_same_image_other_seed_differs(cc):
    again = make_phantom(seed=11, clusters=3, **SMALL)
    np.testing.assert_array_equal(cc.stored, again.stored)
    assert cc.truth == again.truth
    other, _ = make_mammogram(seed=12, clusters=3, **SMALL)
    assert not np.array_equal(cc.stored, other)


def test_truth_lies_inside_the_image_and_the_breast(cc):
    t = cc.truth
    assert (t["rows"], t["cols"]) == (1024, 832) and len(t["clusters"]) == 3
    r0, c0, r1, c1 = t["breast_bbox_px"]
    assert 0 <= r0 < r1 <= 1024 and 0 <= c0 < c1 <= 832
    for cluster in t["clusters"]:
        b = cluster["bbox_px"]
        assert 0 <= b[0] < b[2] <= 1024 and 0 <= b[1] < b[3] <= 832
        assert 5 <= cluster["n_calcifications"] <= 30
        assert (b[2] - b[0]) * 0.14 <= 11.0 and (b[3] - b[1]) * 0.14 <= 11.0  # grouped: about 1 cm
        for calc in cluster["calcifications"]:
            assert cc.mask[int(calc["row"]), int(calc["col"])]
            assert b[0] <= calc["row"] < b[2] and b[1] <= calc["col"] < b[3]
            assert 0.1 <= calc["diameter_mm"] <= 1.0
    for calc in t["hard_negatives"]["isolated_calcifications"]:
        assert cc.mask[int(calc["row"]), int(calc["col"])]
    assert t["hard_negatives"]["vessels"]  # bright vessels are recorded as hard negatives
    for vessel in t["hard_negatives"]["vessels"]:
        rows, cols = np.array(vessel["path_px"]).T
        assert rows.min() >= 0 and rows.max() < 1024 and cols.min() >= 0 and cols.max() < 832


def test_cluster_specks_are_brighter_than_local_tissue(cc):
    img = cc.stored.astype(np.float64)
    brighter = []
    for cluster in cc.truth["clusters"]:
        for calc in cluster["calcifications"]:
            r, c = round(calc["row"]), round(calc["col"])
            ring = img[r - 12 : r + 13, c - 12 : c + 13]
            brighter.append(img[r, c] > np.median(ring))
    assert np.mean(brighter) >= 0.9


def test_air_is_dark_and_flat_outside_the_breast(cc):
    air = cc.stored[~cc.mask]
    tissue = cc.stored[cc.mask]
    assert air.mean() < np.percentile(tissue, 5) and air.std() < 0.1 * tissue.std()


@pytest.mark.parametrize(
    "view, laterality",
    [
        ("MLO", "L"),  # pectoral in the upper-left corner, chest wall on the left
        ("MLO", "R"),  # mirrored: chest wall on the right
        ("CC", "R"),  # no pectoral
    ],
)
def test_chest_wall_side_and_pectoral(view, laterality):
    p = make_phantom(
        seed=3, view=view, laterality=laterality, clusters=1, rows=512, cols=416, spacing_mm=0.28
    )
    wall = 0 if laterality == "L" else -1
    assert p.mask[:, wall].mean() > 0.5 and p.mask[:, -1 - wall].mean() < 0.2
    corner = p.stored[5:40, 2:30] if laterality == "L" else p.stored[5:40, -30:-2]
    is_brighter = float(np.median(corner)) > float(np.percentile(p.stored[p.mask], 75))
    assert is_brighter == (view == "MLO")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"rows": 10}, "image size 10x832"),  # too small
        ({"density": "extreme"}, "unknown density"),  # not a BI-RADS category
        ({"view": "ML"}, "unknown view"),  # unsupported view
        ({"spacing_mm": 5.0}, "pixel spacing"),  # absurd spacing
        ({"clusters": 50}, "clusters must be"),  # too many clusters
    ],
)
def test_bad_arguments_raise_value_error(kwargs, message):
    args = dict(SMALL, **kwargs)
    with pytest.raises(ValueError, match=message):
        make_phantom(seed=0, **args)


def test_default_size_works():
    stored, truth = make_mammogram(seed=0)
    assert stored.shape == (4096, 3328) and stored.dtype == np.uint16
    assert stored.max() <= 4095 and len(truth["clusters"]) == 2
