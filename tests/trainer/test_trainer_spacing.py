"""The model's pixel spacing from the training data or --spacing-mm, and its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from microcalc.errors import InputError
from microcalc.synth.dicom_writer import DicomSpec, write_mammogram_dicom
from microcalc.trainer.data import discover
from microcalc.trainer.spacing import training_spacing
from tests.trainer.stand_in import write_patches


def _dicom_patches(root: Path, spacings: dict[str, float]) -> Path:
    """cluster/ and normal/ with one 32x32 DICOM patch per entry ``name -> spacing``."""
    for k, (name, spacing) in enumerate(spacings.items()):
        folder = root / ("cluster" if k % 2 == 0 else "normal")
        folder.mkdir(parents=True, exist_ok=True)
        write_mammogram_dicom(
            folder / f"{name}.dcm",
            np.full((32, 32), 900 + k, np.uint16),
            DicomSpec(
                seed=k,
                spacing_mm=spacing,
                view="CC",
                laterality="L",
                bits_stored=12,
                window=(900.0, 400.0),
            ),
        )
    return root


def _spacing(root: Path, override: float | None = None) -> float | None:
    return training_spacing([discover(root, positive_class="cluster")], [root], override=override)


def test_from_dicom_headers(tmp_path):
    assert _spacing(_dicom_patches(tmp_path / "d", {"a": 0.085, "b": 0.085})) == pytest.approx(0.085)


def test_from_mc_synth_truth(tmp_path):
    root = write_patches(tmp_path / "p", n_per_class=2, size=32, seed=0)
    (root / "truth.json").write_text(json.dumps({"spacing_mm": 0.1, "patches": {}}))
    assert _spacing(root) == pytest.approx(0.1)
    assert _spacing(root, override=0.1005) == pytest.approx(0.1005)  # agrees within 1%


def test_override_alone_and_nothing_at_all(tmp_path):
    root = write_patches(tmp_path / "p", n_per_class=2, size=32, seed=0)  # PNGs, no truth.json
    assert _spacing(root) is None
    assert _spacing(root, override=0.07) == pytest.approx(0.07)


@pytest.mark.parametrize(
    "spacings, override, text",
    [
        # two detectors in one training set
        ({"a": 0.05, "b": 0.1}, None, "the training data mix pixel spacings: 0.05 mm in"),
        # the option contradicts the headers
        ({"a": 0.07, "b": 0.07}, 0.1, "--spacing-mm 0.1 contradicts the data: 0.07 mm in"),
        # implausible value
        ({"a": 0.07, "b": 0.07}, 30.0, "--spacing-mm: pixel spacing 30 mm is outside"),
    ],
)
def test_refusals_are_one_line(tmp_path, spacings, override, text):
    with pytest.raises(InputError, match=text) as info:
        _spacing(_dicom_patches(tmp_path / "d", spacings), override)
    assert "\n" not in str(info.value)
