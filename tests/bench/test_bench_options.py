"""mc-bench's parity-bound options are made from parity.BOUNDS and turned back into the same bounds."""

from __future__ import annotations

import pytest

from microcalc.bench.cli import cli
from microcalc.bench.options import BOUND_OPTIONS, bounds_from
from microcalc.parity import BOUNDS, ParityBounds


def _defaults() -> dict[str, float]:
    return {p.name: p.default for p in cli.params if p.opts[0] in BOUND_OPTIONS}


def test_defaults_are_the_project_bounds():
    assert len(_defaults()) == len(BOUND_OPTIONS)
    assert bounds_from(_defaults()) == BOUNDS


@pytest.mark.parametrize(
    ("name", "value", "precision", "expected"),
    [
        # each option sets its own bound and no other
        ("fp16_max_diff", 0.5, "fp16", ParityBounds(max_abs_diff=0.5)),
        ("int8_delta_auc", 0.02, "int8", ParityBounds(min_label_agreement=0.99, max_abs_delta_auc=0.02)),
        ("int8_agreement", 0.9, "int8", ParityBounds(min_label_agreement=0.9, max_abs_delta_auc=0.005)),
    ],
)
def test_an_option_sets_only_its_bound(name, value, precision, expected):
    bounds = bounds_from({**_defaults(), name: value})
    assert bounds[precision] == expected
    assert {k: v for k, v in bounds.items() if k != precision} == {
        k: v for k, v in BOUNDS.items() if k != precision
    }
