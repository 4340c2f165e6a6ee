"""Scanning at the model's spacing: the scanned grid, the way back to the original grid, the pipeline hook."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from engine_fakes import as_image, phantom

from microcalc.engine.findings import Box, Finding
from microcalc.engine.geometry import ASSUMED_SOURCE, OPTION_SOURCE, plan_geometry, to_model_grid
from microcalc.engine.pipeline import Scanner
from microcalc.engine.settings import ScanSettings
from microcalc.errors import InputError, MicrocalcError
from microcalc.imaging.resample import resample_to_shape

P = 64


@pytest.mark.parametrize(
    "spacing, model, given, scanned, source, note",
    [
        # 0.05 mm detector, 0.1 mm model: half the pixels per axis
        ((0.05, 0.05), 0.1, None, (500, 400), "ImagerPixelSpacing", None),
        # 0.1 mm detector, 0.07 mm model: upsampled by 10/7
        ((0.1, 0.1), 0.07, None, (1429, 1143), "ImagerPixelSpacing", None),
        # anisotropic detector: each axis by its own factor
        ((0.05, 0.1), 0.1, None, (500, 800), "ImagerPixelSpacing", None),
        # within 1% of the model's spacing (DS rounding): scanned as it is
        ((0.0702, 0.0702), 0.07, None, (1000, 800), "ImagerPixelSpacing", None),
        # PNG with --spacing
        (None, 0.07, 0.14, (2000, 1600), OPTION_SOURCE, None),
        # PNG without --spacing: assumed at the model's spacing, and said so
        (None, 0.07, None, (1000, 800), ASSUMED_SOURCE, "assumed the model's 0.07 mm"),
        # a model without spacing: native grid, and said so
        ((0.05, 0.05), None, None, (1000, 800), "ImagerPixelSpacing", "native grid"),
    ],
)
def test_plan(spacing, model, given, scanned, source, note):
    image = as_image(np.zeros((1000, 800), np.uint8), spacing_mm=spacing)
    geometry = plan_geometry(image, model_spacing_mm=model, input_spacing_mm=given)
    _check(geometry, model, scanned, source, note)


def test_native_grid_keeps_the_image_and_says_so():
    image = as_image(np.zeros((1000, 800), np.uint8), spacing_mm=(0.05, 0.05))
    geometry = plan_geometry(image, model_spacing_mm=0.1, native_grid=True)
    _check(geometry, 0.1, (1000, 800), "ImagerPixelSpacing", "--native-grid: scanned at the native grid")


def _check(geometry, model, scanned, source, note):
    assert geometry.scanned_shape == scanned
    assert geometry.spacing.source == source
    assert (geometry.note is None) if note is None else (note in geometry.note)
    assert geometry.scale == pytest.approx((scanned[0] / 1000, scanned[1] / 800))
    report = geometry.to_dict()
    assert report["model_spacing_mm"] == model and report["scanned_shape"] == list(scanned)
    assert report["resampled"] == (scanned != (1000, 800))


def test_unknown_everything_has_no_spacing():
    geometry = plan_geometry(as_image(np.zeros((100, 80), np.uint8), spacing_mm=None), model_spacing_mm=None)
    assert geometry.spacing is None and geometry.spacing_mm is None and not geometry.resampled


def test_findings_map_back_to_the_original_grid():
    image = as_image(np.zeros((1000, 800), np.uint8), spacing_mm=(0.05, 0.05))
    geometry = plan_geometry(image, model_spacing_mm=0.1)  # scanned 500x400
    found = Finding(frame=Box(0, 64, 128, 192), bbox=Box(10, 20, 30, 40), score=0.9, tiles=2)
    (back,) = geometry.to_original([found])
    assert back.bbox == Box(20, 40, 60, 80) and back.frame == Box(0, 128, 256, 384)
    assert back.score == 0.9 and back.tiles == 2
    assert back.to_dict(spacing_mm=geometry.spacing_mm)["centre_mm"] == {"x": 2.0, "y": 3.0}


def test_too_small_at_the_model_spacing_is_one_line():
    image = as_image(np.zeros((200, 200), np.uint8), "small.png", spacing_mm=(0.05, 0.05))
    with pytest.raises(
        InputError,
        match=r"^small.png: at the model's spacing of 0.2 mm the image is 50x50, "
        r"smaller than one 64x64 tile$",
    ):
        to_model_grid(image, model_spacing_mm=0.2, min_side=P)


def test_spacing_settings_are_validated():
    with pytest.raises(MicrocalcError, match="--spacing: pixel spacing -1 mm"):
        ScanSettings(threshold=0.5, input_spacing_mm=-1)


def _reader(images):
    return lambda path: images[path.name]


def test_pipeline_scans_at_the_model_spacing_and_reports_in_the_original_grid(mean_backend):
    """The same breast at 0.05 mm and at 0.1 mm gives the same finding in mm (model at 0.1 mm)."""
    coarse = phantom(600, 500, spots=((300, 200),))
    fine = resample_to_shape(coarse, (1200, 1000))  # the same field at 0.05 mm
    images = {
        "fine": as_image(fine, "fine", spacing_mm=(0.05, 0.05)),
        "coarse": as_image(coarse, "coarse", spacing_mm=(0.1, 0.1)),
    }
    settings = ScanSettings(threshold=0.3, batch_size=4, model_spacing_mm=0.1)
    results = {
        r.path.name: r
        for r in Scanner(mean_backend(P), reader=_reader(images), settings=settings).scan(
            [Path("fine"), Path("coarse")]
        )
    }
    fine_r, coarse_r = results["fine"], results["coarse"]
    assert fine_r.error is None and coarse_r.error is None
    assert fine_r.image.pixels.shape == (600, 500) and fine_r.geometry.scale == (0.5, 0.5)
    assert not coarse_r.geometry.resampled
    assert "resample" in fine_r.times_ms and fine_r.times_ms["resample"] > 0
    (f_fine,), (f_coarse,) = fine_r.findings, coarse_r.findings
    (scan_fine,) = fine_r.scan_findings
    assert f_fine.bbox.contains(400, 600) and scan_fine.bbox.contains(200, 300)  # (x, y): original vs scanned
    mm_fine = f_fine.to_dict(spacing_mm=fine_r.geometry.spacing_mm)["centre_mm"]
    mm_coarse = f_coarse.to_dict(spacing_mm=coarse_r.geometry.spacing_mm)["centre_mm"]
    assert mm_fine == pytest.approx(mm_coarse, abs=0.1)
