"""PGM (P5, 8 and 16 bit) is read as PNG is: the reader, mc-scan (with --spacing) and folder expansion."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from engine_fakes import TINY_PATCH as P
from engine_fakes import TINY_THRESHOLD, phantom, write_tiny_bundle
from pgm_files import write_pgm
from PIL import Image

from microcalc import scan_cli
from microcalc.engine.inputs import expand_inputs
from microcalc.imaging import read_mammogram
from microcalc.imaging.patches import read_patch


@pytest.mark.parametrize("bits", [8, 16])
def test_pgm_reads_as_the_png_of_the_same_grey(tmp_path, bits):
    """8 bit is taken as is; 16 bit with maxval 4095 (Pillow scales it to 65535) gets the breast
    min-max a 16-bit PNG of the same grey gets; the trainer's patch reader agrees with the scanner's."""
    grey = phantom(120, 100, spots=((60, 40),))
    pgm = write_pgm(tmp_path / "mias.pgm", grey, bits=bits)
    png = tmp_path / "same.png"
    Image.fromarray(grey if bits == 8 else grey.astype(np.uint16) * 257).save(png)
    got, want = read_mammogram(pgm), read_mammogram(png)
    assert got.pixels.dtype == np.uint8 and got.meta.pixel_spacing_mm is None
    assert int(np.abs(got.pixels.astype(int) - want.pixels.astype(int)).max()) <= 1
    np.testing.assert_array_equal(read_patch(pgm), got.pixels)


@pytest.mark.parametrize("bits", [8, 16])
def test_mc_scan_accepts_pgm_as_png(tmp_path, fake_backend, bits):
    bundle = write_tiny_bundle(tmp_path / "b05", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.05)
    folder = tmp_path / "in"
    folder.mkdir()
    write_pgm(folder / "mias.pgm", phantom(600, 500, spots=((300, 200),)), bits=bits)
    Image.fromarray(phantom(600, 500, spots=((300, 200),))).save(folder / "film.png")
    assert [p.name for p in expand_inputs([str(folder)])] == ["film.png", "mias.pgm"]
    args = [str(folder), "--model", str(bundle), "--out", str(tmp_path / "o"), "--spacing", "0.1"]
    result = CliRunner().invoke(scan_cli.cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    pgm, png = (json.loads((tmp_path / "o" / f"{s}.json").read_text()) for s in ("mias", "film"))
    assert pgm["resampling"]["spacing_source"] == "--spacing" and pgm["pixel_spacing_mm"] == [0.1, 0.1]
    assert [f["bbox_px"] for f in pgm["findings"]] == [f["bbox_px"] for f in png["findings"]]
    (finding,) = pgm["findings"]
    box = finding["bbox_px"]
    assert box["x0"] <= 200 < box["x1"] and box["y0"] <= 300 < box["y1"]
