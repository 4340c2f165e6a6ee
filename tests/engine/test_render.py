"""The overview marks each finding where its box is and nothing on a normal image; zoom crops."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import phantom
from PIL import Image

from microcalc import scan_cli
from microcalc.engine.findings import Box, Finding
from microcalc.engine.mask import breast_mask
from microcalc.engine.render import MARK, overview, ranked, zoom_crop
from microcalc.engine.tiler import TileGrid, plan_tiles


def _grid(pixels: np.ndarray) -> TileGrid:
    return plan_tiles(breast_mask(pixels), size=64, overlap=0.25, min_breast=0.1)


def _marked(image: Image.Image) -> np.ndarray:
    """Where the overview drew its mark colour: [rows, cols] bool."""
    rgb = np.asarray(image, dtype=np.int16)
    return (np.abs(rgb - np.array(MARK, dtype=np.int16)).sum(axis=2) <= 30) & (rgb[..., 2] < 100)


def test_mark_is_drawn_around_the_box_and_nowhere_else():
    pixels = phantom(1200, 1000, spots=((700, 400),))
    box = Box(x0=388, y0=688, x1=412, y1=712)
    far = Box(x0=100, y0=200, x1=130, y1=230)
    findings = [
        Finding(frame=box, bbox=box, score=0.9, tiles=1),
        Finding(frame=far, bbox=far, score=0.6, tiles=1),
    ]
    image = overview(pixels, _grid(pixels), np.zeros(len(_grid(pixels))), findings, corner=("L CC",))
    scale = 1024 / 1200
    marked = _marked(image)
    for b in (box, far):
        cy, cx = round((b.y0 + b.y1) / 2 * scale), round((b.x0 + b.x1) / 2 * scale)
        half = max(6, round((b.x1 - b.x0) / 2 * scale) + 3)
        ring = marked[cy - half - 2 : cy + half + 3, cx - half - 2 : cx + half + 3]
        assert ring[:, :4].any() and ring[:, -4:].any() and ring[:4].any() and ring[-4:].any()  # 4 sides
        assert not marked[
            cy - half + 3 : cy + half - 2, cx - half + 3 : cx + half - 2
        ].any()  # box itself clear
    # beyond the two marks and their labels (to the right of each mark), no mark colour anywhere
    rows, cols = np.nonzero(marked)
    near = [
        (abs(rows - (b.y0 + b.y1) / 2 * scale) < 30)
        & (cols > b.x0 * scale - 30)
        & (cols < b.x1 * scale + 120)
        for b in (box, far)
    ]
    assert (near[0] | near[1]).all()


def test_normal_image_overview_has_no_mark():
    pixels = phantom(600, 500, spots=())
    image = overview(pixels, _grid(pixels), np.zeros(len(_grid(pixels))), [], corner=("R MLO", "no findings"))
    rgb = np.asarray(image, dtype=np.int16)
    assert not _marked(image).any()
    assert (rgb.max(axis=2) - rgb.min(axis=2)).max() == 0  # grey only: no heat map unless asked, no colour


def test_ranks_follow_scores_and_zoom_crop_keeps_full_resolution():
    a, b = Box(10, 10, 20, 20), Box(50, 50, 70, 70)
    fa, fb = Finding(frame=a, bbox=a, score=0.4, tiles=1), Finding(frame=b, bbox=b, score=0.8, tiles=1)
    assert ranked([fa, fb]) == [(1, fb), (2, fa)]
    pixels = phantom(600, 500, spots=((300, 200),))
    crop_image, crop = zoom_crop(pixels, Box(188, 288, 212, 312), spacing_mm=0.1)  # 3 mm = 30 px margin
    assert crop == Box(158, 258, 242, 342) and crop_image.size == (84, 84)
    inside = np.asarray(crop_image)[31:53, 31:53, 0]
    np.testing.assert_array_equal(inside, pixels[289:311, 189:211])  # unscaled, the box not painted over


def test_scan_lists_zoom_crops_and_marks_the_finding(tmp_path, tiny_bundle, fake_backend):
    image = write_dicom(tmp_path / "right_mlo.dcm", phantom(600, 500, spots=((300, 200),)))
    out = tmp_path / "out"
    result = CliRunner().invoke(scan_cli.cli, [str(image), "--model", str(tiny_bundle), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "right_mlo.json").read_text())
    (finding,) = report["findings"]
    (zoom,) = report["zoom"]
    assert finding["rank"] == 1 and zoom["rank"] == 1 and zoom["finding"] == 0
    assert zoom["png"] == "right_mlo.zoom1.png" and zoom["spacing_mm"] == 0.1
    c = zoom["scanned_crop_px"]
    with Image.open(out / zoom["png"]) as crop:
        assert crop.size == (c["x1"] - c["x0"], c["y1"] - c["y0"])
    with Image.open(out / "right_mlo.png") as png:
        marked = _marked(png.convert("RGB"))
    box = finding["bbox_px"]
    rows, cols = np.nonzero(marked)
    assert rows.size and abs(rows.min() - box["y0"]) <= 6 and abs(cols.min() - box["x0"]) <= 6
    result = CliRunner().invoke(
        scan_cli.cli,
        [str(image), "--model", str(tiny_bundle), "--out", str(out / "nz"), "--no-zoom", "--heatmap"],
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (out / "nz").iterdir()) == ["right_mlo.json", "right_mlo.png"]
    assert "zoom" not in json.loads((out / "nz" / "right_mlo.json").read_text())
