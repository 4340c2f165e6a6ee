"""Statistics: exact values on tiny samples."""

import pytest

from microcalc.bench.stats import latency_summary, median, stage_medians, throughput


@pytest.mark.parametrize(
    "values, expected",
    [
        ([3.0], 3.0),  # one sample is its own median
        ([1.0, 9.0, 2.0], 2.0),  # odd length: the middle value
        ([1.0, 2.0, 3.0, 10.0], 2.5),  # even length: mean of the two middle values
    ],
)
def test_median(values, expected):
    assert median(values) == expected


def test_latency_percentiles_of_1_to_100():
    summary = latency_summary([float(v) for v in range(1, 101)])
    # numpy's linear interpolation: p50 of 1..100 is 50.5, p90 is 90.1, p99 is 99.01
    assert summary["p50"] == pytest.approx(50.5)
    assert summary["p90"] == pytest.approx(90.1)
    assert summary["p99"] == pytest.approx(99.01)
    assert summary["mean"] == pytest.approx(50.5)


def test_throughput_is_median_rate():
    # 8 items in 1 s, 2 s and 4 s: rates 8, 4, 2 -> median 4
    assert throughput(8, [1.0, 2.0, 4.0]) == 4.0


@pytest.mark.parametrize(
    "bad",
    [
        [],  # empty sample
    ],
)
def test_empty_samples_are_refused(bad):
    with pytest.raises(ValueError):
        median(bad)
    with pytest.raises(ValueError):
        latency_summary(bad)


def test_stage_medians_skip_missing_keys():
    samples = [{"h2d": 1.0, "compute": 5.0}, {"h2d": 3.0, "compute": 7.0, "d2h": 0.5}]
    assert stage_medians(samples) == {"compute": 6.0, "d2h": 0.5, "h2d": 2.0}
