"""Vendor variety: the same breasts seen by detectors of several spacings, bits, VOI LUTs, MONOCHROME1."""

from __future__ import annotations

import json

import numpy as np
import pydicom
import pytest
from click.testing import CliRunner

from microcalc.imaging import read_mammogram
from microcalc.synth.anatomy import quantum_noise_std
from microcalc.synth.cli import cli
from microcalc.synth.detector import sample_detector
from microcalc.synth.phantom import make_phantom
from microcalc.synth.vendors import BITS_STORED, detector_style, write_vendor_set


@pytest.fixture(scope="module")
def vendor_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("vendors")
    manifest = write_vendor_set(
        out, breasts=2, spacings=(0.05, 0.1), height_mm=50.0, width_mm=42.0, seed=1, clusters=1, isolated=1
    )
    return out, json.loads(manifest.read_text())["cases"]


def test_every_detector_sees_the_same_calcifications_in_mm(vendor_set):
    out, cases = vendor_set
    for breast in (0, 1):
        truths = {
            c["spacing_mm"]: json.loads((out / c["truth"]).read_text())
            for c in cases
            if c["breast"] == breast
        }
        fine, coarse = truths[0.05]["clusters"][0], truths[0.1]["clusters"][0]
        assert np.multiply(fine["center_px"], 0.05) == pytest.approx(
            np.multiply(coarse["center_px"], 0.1), abs=0.01
        )
        for a, b in zip(fine["calcifications"], coarse["calcifications"]):
            assert a["diameter_mm"] == b["diameter_mm"]
            assert a["diameter_px"] == pytest.approx(2 * b["diameter_px"], abs=0.02)
        assert (truths[0.05]["rows"], truths[0.1]["rows"]) == (1000, 500)


def test_styles_rotate_and_read_back(vendor_set):
    out, cases = vendor_set
    assert [(c["bits_stored"], c["photometric"], c["voi_function"]) for c in cases] == [
        detector_style(c["breast"] + k) for c in cases for k in [(0.05, 0.1).index(c["spacing_mm"])]
    ]
    for case in cases:
        ds = pydicom.dcmread(out / case["dicom"], stop_before_pixels=True)
        assert (ds.BitsStored, ds.PhotometricInterpretation, ds.VOILUTFunction) == (
            case["bits_stored"],
            case["photometric"],
            case["voi_function"],
        )
        image = read_mammogram(out / case["dicom"])
        assert image.meta.pixel_spacing_mm == pytest.approx((case["spacing_mm"],) * 2)
        assert image.pixels.shape == (case["rows"], case["cols"]) and image.pixels.dtype == np.uint8
    uids = {pydicom.dcmread(out / c["dicom"], stop_before_pixels=True).SOPInstanceUID for c in cases}
    assert len(uids) == len(cases)  # every detector image is its own instance


def test_styles_cover_bits_photometrics_and_voi_functions():
    styles = [detector_style(i) for i in range(6)]
    assert {s[0] for s in styles} == set(BITS_STORED)
    assert {s[1] for s in styles} == {"MONOCHROME1", "MONOCHROME2"}
    assert {s[2] for s in styles} == {"LINEAR", "LINEAR_EXACT", "SIGMOID"}


def test_detector_noise_follows_the_pixel_area():
    """Area integration of the fine rendering gives each detector the quantum noise of its pixel size."""
    master = make_phantom(
        seed=2, rows=800, cols=800, spacing_mm=0.035, clusters=0, isolated=0, bits_stored=16
    )
    stds = {}
    for spacing in (0.05, 0.1):
        seen = sample_detector(master, master_spacing_mm=0.035, spacing_mm=spacing, bits_stored=16)
        level = seen.stored.astype(np.float64) / 65535
        inner = level[seen.mask][:: max(1, level.size // 20000)]
        stds[spacing] = np.std(np.diff(inner))  # pixel-to-pixel noise, tissue texture cancels
    ratio = stds[0.05] / stds[0.1]
    assert 1.4 < ratio < 2.6  # quantum noise alone would give 2; texture adds to both
    assert quantum_noise_std(0.05) == pytest.approx(quantum_noise_std(0.1) * 2)


def test_vendors_command_and_processing_intent(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "vendors",
            str(tmp_path / "v"),
            "--breasts",
            "1",
            "--spacings",
            "0.1",
            "--height-mm",
            "50",
            "--width-mm",
            "42",
            "--clusters",
            "1",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "v" / "s0.1" / "case_000.dcm").is_file() and (
        tmp_path / "v" / "manifest.json"
    ).is_file()
    out = tmp_path / "raw.dcm"
    result = CliRunner().invoke(
        cli,
        [
            "mammogram",
            str(out),
            "--rows",
            "300",
            "--cols",
            "260",
            "--clusters",
            "0",
            "--intent",
            "processing",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert pydicom.dcmread(out, stop_before_pixels=True).PresentationIntentType == "FOR PROCESSING"
    assert json.loads(out.with_suffix(".json").read_text())["intent"] == "processing"


def test_spacing_finer_than_the_rendering_is_refused(tmp_path):
    master = make_phantom(seed=2, rows=300, cols=300, spacing_mm=0.05, clusters=0, isolated=0, bits_stored=16)
    with pytest.raises(ValueError, match="cannot sample a rendering at 0.05 mm"):
        sample_detector(master, master_spacing_mm=0.05, spacing_mm=0.035, bits_stored=12)
