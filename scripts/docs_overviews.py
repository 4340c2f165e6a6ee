"""Small copies of mc-scan overviews for docs/: re-drawn from each report at ``--side`` px and stored
as palette PNGs of grey levels plus the mark colour (tens of KB each instead of ~300 KB; a palette
chosen from the image would tint bright tissue with the mark's yellow).

    python scripts/docs_overviews.py SCAN_DIR OUT_DIR STEM... [--side 560]

Each STEM names SCAN_DIR/STEM.json, an mc-scan report whose input image is still where it says.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from microcalc.engine.findings import Box, Finding
from microcalc.engine.render import MARK, corner_lines, overview
from microcalc.imaging import read_mammogram


def small_overview(report_path: Path, *, side: int) -> Image.Image:
    """The overview of one report at ``side`` px, its findings from the report (the original grid)."""
    report = json.loads(report_path.read_text())
    pixels = read_mammogram(report["input"]).pixels
    findings = []
    for f in report["findings"]:
        box = Box(**f["bbox_px"])
        findings.append(Finding(frame=Box(**f["frame_px"]), bbox=box, score=f["score"], tiles=f["tiles"]))
    image = overview(pixels, None, np.zeros(0), findings, corner=corner_lines(report), max_side=side)
    palette = Image.new("P", (1, 1))
    palette.putpalette([v for g in range(0, 256, 2) for v in (g, g, g)] + list(MARK) + [255, 255, 255])
    return image.quantize(palette=palette, dither=Image.Dither.NONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scan_dir", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("stems", nargs="+")
    parser.add_argument("--side", type=int, default=560)
    args = parser.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for stem in args.stems:
        out = args.out_dir / f"overview_{stem}.png"
        small_overview(args.scan_dir / f"{stem}.json", side=args.side).save(out, optimize=True)
        print(f"{out} ({out.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
