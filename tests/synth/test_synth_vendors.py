"""Vendor variety: the same field of view at several detector spacings, bits stored, VOI functions, MONOCHROME1."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from microcalc.imaging import read_mammogram
from microcalc.synth.anatomy import quantum_noise_std
from microcalc.synth.cli import cli
from microcalc.synth.vendors import BITS_STORED, Case, vendor_cases, write_case, write_vendor_set


def test_cases_keep_the_field_of_view_and_rotate_the_styles():
    cases = vendor_cases(per_spacing=6, spacings=(0.05, 0.07, 0.085, 0.1), height_mm=143.36, width_mm=116.48, seed=7)
    assert len(cases) == 24 and len({c.seed for c in cases}) == 24  # held-out: no seed twice
    for case in cases:
        assert case.rows * case.spacing_mm == pytest.approx(143.36, abs=case.spacing_mm)
        assert case.cols * case.spacing_mm == pytest.approx(116.48, abs=case.spacing_mm)
    at_07 = [c for c in cases if c.spacing_mm == 0.07]
    assert (at_07[0].rows, at_07[0].cols) == (2048, 1664)
    assert {c.bits_stored for c in cases} == set(BITS_STORED)
    assert {c.photometric for c in cases} == {"MONOCHROME1", "MONOCHROME2"}
    assert {c.voi_function for c in cases} == {"LINEAR", "LINEAR_EXACT", "SIGMOID"}


def test_calcifications_have_the_same_size_in_mm_at_every_spacing(tmp_path):
    diameters = {}
    for spacing in (0.05, 0.1):
        case = Case(name="m.dcm", seed=3, rows=round(40 / spacing), cols=round(34 / spacing), spacing_mm=spacing,
                    clusters=1, isolated=0)
        truth = write_case(tmp_path / f"m{spacing}.dcm", case)
        specks = truth["clusters"][0]["calcifications"]
        for s in specks:  # pixels follow the spacing, mm do not
            assert s["diameter_px"] * spacing == pytest.approx(s["diameter_mm"], abs=1e-3)
        diameters[spacing] = [s["diameter_mm"] for s in specks]
        assert all(0.1 <= d <= 1.0 for d in diameters[spacing])


def test_quantum_noise_follows_the_pixel_area():
    assert quantum_noise_std(0.05) == pytest.approx(quantum_noise_std(0.1) * 2)


def test_vendor_set_reads_back_at_each_spacing_and_style(tmp_path):
    cases = vendor_cases(per_spacing=2, spacings=(0.085, 0.1), height_mm=50.0, width_mm=42.0, seed=1,
                         clusters=1, isolated=1)
    manifest = json.loads(write_vendor_set(tmp_path, cases).read_text())
    assert [e["dicom"] for e in manifest["cases"]] == [c.name for c in cases]
    for entry in manifest["cases"]:
        ds = pydicom.dcmread(tmp_path / entry["dicom"], stop_before_pixels=True)
        assert ds.BitsStored == entry["bits_stored"] and ds.PhotometricInterpretation == entry["photometric"]
        assert ds.VOILUTFunction == entry["voi_function"]
        image = read_mammogram(tmp_path / entry["dicom"])
        assert image.meta.pixel_spacing_mm == pytest.approx((entry["spacing_mm"],) * 2)
        assert image.pixels.shape == (entry["rows"], entry["cols"]) and image.pixels.dtype == np.uint8
        assert (tmp_path / entry["truth"]).is_file()


def test_vendors_command_and_processing_intent(tmp_path):
    result = CliRunner().invoke(cli, ["vendors", str(tmp_path / "v"), "--per-spacing", "1", "--spacings", "0.1",
                                      "--height-mm", "50", "--width-mm", "42", "--clusters", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v" / "s0.1" / "case_000.dcm").is_file() and (tmp_path / "v" / "manifest.json").is_file()
    out = tmp_path / "raw.dcm"
    result = CliRunner().invoke(cli, ["mammogram", str(out), "--rows", "300", "--cols", "260", "--clusters", "0",
                                      "--intent", "processing"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert pydicom.dcmread(out, stop_before_pixels=True).PresentationIntentType == "FOR PROCESSING"
    assert json.loads(out.with_suffix(".json").read_text())["intent"] == "processing"
