"""The preprocessing spec: published per-tile max scaling, the all-zero guard, channel replication."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.preprocessing import PUBLISHED, Preprocessing


def test_per_tile_max_matches_published_float64_division() -> None:
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 200, size=(3, 1, 16, 16), dtype=np.uint8)
    out = PUBLISHED.apply(tiles)
    assert out.shape == (3, 3, 16, 16) and out.dtype == np.float32
    for i in range(3):
        ref = tiles[i, 0] / tiles[i, 0].max()
        for c in range(3):
            np.testing.assert_allclose(out[i, c], ref, atol=1e-7)


def test_all_zero_tile_becomes_zeros_not_nan() -> None:
    out = PUBLISHED.apply(np.zeros((1, 1, 8, 8), np.uint8))
    assert np.all(out == 0)


@pytest.mark.parametrize(
    "spec,expected_max",
    [
        (Preprocessing("fixed_255", 3), 100 / 255),  # fixed scale keeps the tile's own brightness
        (Preprocessing("per_tile_max", 1), 1.0),  # one-channel models get one channel
    ],
)
def test_other_specs(spec: Preprocessing, expected_max: float) -> None:
    tiles = np.full((2, 8, 8), 100, np.uint8)
    out = spec.apply(tiles)
    assert out.shape == (2, spec.channels, 8, 8)
    assert out.max() == pytest.approx(expected_max)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"scaling": "zscore"}, "unknown scaling 'zscore'"),
        ({"channels": 2}, "channels must be 1 or 3"),
    ],
)
def test_bad_specs_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Preprocessing(**kwargs)


def test_round_trip_dict() -> None:
    assert Preprocessing.from_dict(PUBLISHED.to_dict()) == PUBLISHED


def test_non_uint8_input_is_refused() -> None:
    with pytest.raises(TypeError, match="uint8"):
        PUBLISHED.apply(np.zeros((1, 1, 4, 4), np.float32))
