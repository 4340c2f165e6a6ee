"""Patch sets: layout, counts, sizes, determinism, and a learnable but non-trivial signal."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from microcalc.synth.patches import write_patch_set


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.rglob("*.png")):
        h.update(path.relative_to(folder).as_posix().encode())
        h.update(path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def patch_set(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("patches")
    assert write_patch_set(out, n=96, patch_size=128, seed=1) == {"cluster": 48, "normal": 48}
    return out


def test_layout_counts_and_sizes(patch_set):
    for kind in ("cluster", "normal"):
        files = sorted((patch_set / kind).glob("*.png"))
        assert len(files) == 48
        with Image.open(files[0]) as im:
            assert im.mode == "L" and im.size == (128, 128)
    assert not list(patch_set.rglob(".*.tmp"))


@pytest.mark.parametrize(
    "n, size, expected",
    [
        (5, 32, {"cluster": 2, "normal": 3}),  # odd n: the extra patch is normal
        (2, 300, {"cluster": 1, "normal": 1}),  # large patch size uses fewer cells per phantom
    ],
)
def test_odd_counts_and_sizes(tmp_path, n, size, expected):
    assert write_patch_set(tmp_path, n=n, patch_size=size, seed=0) == expected
    with Image.open(next((tmp_path / "cluster").glob("*.png"))) as im:
        assert im.size == (size, size)


def test_same_seed_same_files(patch_set, tmp_path):
    write_patch_set(tmp_path, n=96, patch_size=128, seed=1)
    assert _digest(tmp_path) == _digest(patch_set)


@pytest.mark.parametrize(
    "n, size, message",
    [
        (1, 128, "--n must be at least 2"),  # nothing to balance
        (10, 16, "patch size 16 out of range"),  # too small for a cluster
    ],
)
def test_bad_arguments(tmp_path, n, size, message):
    with pytest.raises(ValueError, match=message):
        write_patch_set(tmp_path, n=n, patch_size=size, seed=0)


def _speck_score(path: Path) -> float:
    """A crude hand-made detector: bright blobs standing 35 gray levels above the local median."""
    img = np.asarray(Image.open(path), dtype=np.float32)
    excess = ndimage.gaussian_filter(img, 0.7) - ndimage.median_filter(img, size=15)
    return float(ndimage.label(excess > 35)[1])


def test_signal_is_learnable_but_not_trivial(patch_set):
    from sklearn.metrics import roc_auc_score

    pos = [_speck_score(p) for p in sorted((patch_set / "cluster").glob("*.png"))]
    neg = [_speck_score(p) for p in sorted((patch_set / "normal").glob("*.png"))]
    auc = roc_auc_score([1] * len(pos) + [0] * len(neg), pos + neg)
    assert auc > 0.8  # specks stand out of the noise
    assert max(neg) > 0  # some normal patches hold single specks: counting bright pixels is not enough


def test_truth_lists_every_patch_with_its_cluster_inside(patch_set):
    import json

    truth = json.loads((patch_set / "truth.json").read_text())
    files = sorted(p.relative_to(patch_set).as_posix() for p in patch_set.rglob("*.png"))
    assert sorted(truth["patches"]) == files and truth["patch_size"] == 128
    for name, entry in truth["patches"].items():
        patch = np.asarray(Image.open(patch_set / name), dtype=np.float64)
        if entry["label"] == "cluster":
            r0, c0, r1, c1 = entry["cluster"]["bbox_px"]
            assert 0 <= r0 < r1 <= 129 and 0 <= c0 < c1 <= 129, name  # whole cluster in the patch
            assert 5 <= entry["cluster"]["n_calcifications"] <= 30
            # the specks are where the truth says: the cluster box is brighter than the patch
            assert patch[r0:r1, c0:c1].max() > np.percentile(patch, 50), name
        else:
            assert entry["cluster"] is None
            for speck in entry["isolated_calcifications"]:
                assert 0 <= speck["row"] < 128 and 0 <= speck["col"] < 128


def test_spacing_keeps_calcification_sizes_in_mm(tmp_path):
    from microcalc.synth.patches import PatchStyle

    write_patch_set(tmp_path, n=16, patch_size=64, seed=3, style=PatchStyle(spacing_mm=0.14))
    import json

    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["spacing_mm"] == 0.14
    specks = [c for e in truth["patches"].values() if e["cluster"] for c in e["cluster"]["calcifications"]]
    assert specks and all(0.1 <= c["diameter_mm"] <= 1.0 for c in specks)  # the physical model, in mm
    assert all(abs(c["diameter_px"] * 0.14 - c["diameter_mm"]) < 0.01 for c in specks)


def test_inside_framing_fills_the_patch_with_whole_specks(tmp_path):
    import json

    from microcalc.synth.patches import PatchStyle

    write_patch_set(
        tmp_path, n=32, patch_size=60, seed=4, style=PatchStyle(spacing_mm=0.085, framing="inside")
    )
    truth = json.loads((tmp_path / "truth.json").read_text())
    assert truth["framing"] == "inside"
    spans = []
    for entry in truth["patches"].values():
        if entry["cluster"]:
            r0, c0, r1, c1 = entry["cluster"]["bbox_px"]
            assert 0 <= r0 < r1 <= 61 and 0 <= c0 < c1 <= 61  # every speck whole inside the patch
            assert 5 <= entry["cluster"]["n_calcifications"] <= 30
            spans.append(max(r1 - r0, c1 - c0))
    assert np.median(spans) > 40  # spread over the patch, not gathered in its middle


def test_randomised_rendering_varies_between_phantoms_and_is_deterministic(tmp_path):
    from microcalc.synth.patches import PatchStyle

    style = PatchStyle(spacing_mm=0.085, framing="inside", randomise=True)
    write_patch_set(tmp_path / "a", n=64, patch_size=60, seed=5, style=style)
    write_patch_set(tmp_path / "b", n=64, patch_size=60, seed=5, style=style)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    means = [
        np.asarray(Image.open(p), dtype=np.float64).mean() for p in sorted((tmp_path / "a").rglob("*.png"))
    ]
    assert np.std(means) > 15  # windows and levels differ from one acquisition to the next


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"framing": "around"}, "unknown framing 'around'"),  # not a framing
        ({"spacing_mm": 0.01}, "pixel spacing 0.01 mm out of range"),  # finer than any detector
    ],
)
def test_bad_style(kwargs, message):
    from microcalc.synth.patches import PatchStyle

    with pytest.raises(ValueError, match=message):
        PatchStyle(**kwargs)
