"""The overview picture of a scan: the mammogram downscaled, the tile heatmap, finding boxes.

A reader glances at it to see where the model looked and what it flagged. Tile scores are
painted as a red veil whose opacity grows with the score (each pixel shows the highest score
of the tiles covering it); a finding's tile frame is outlined in yellow and its CAM box in red,
with its score. Drawn with Pillow on a copy at most ``max_side`` pixels on its long side.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from microcalc.engine.findings import Finding
from microcalc.engine.tiler import TileGrid

VEIL = np.array([255.0, 32.0, 0.0], dtype=np.float32)


def overview(
    pixels: np.ndarray,
    grid: TileGrid,
    scores: np.ndarray,
    findings: list[Finding],
    *,
    max_side: int = 1024,
    opacity: float = 0.6,
) -> Image.Image:
    """An RGB overview of one scan (see the module docstring); coordinates stay in the original grid."""
    rows, cols = pixels.shape
    scale = min(1.0, max_side / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    gray = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    heat = np.zeros((size[1], size[0]), dtype=np.float32)
    p = grid.size
    for y, x, s in zip(grid.ys, grid.xs, scores):
        y0, x0 = int(y * scale), int(x * scale)
        region = heat[y0 : int((y + p) * scale), x0 : int((x + p) * scale)]
        np.maximum(region, float(s), out=region)
    alpha = (np.clip(heat, 0.0, 1.0) * opacity)[..., None]
    rgb = gray[..., None] * (1.0 - alpha) + VEIL * alpha
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    for f in findings:
        fr, bb = f.frame, f.bbox
        draw.rectangle(
            [fr.x0 * scale, fr.y0 * scale, fr.x1 * scale - 1, fr.y1 * scale - 1], outline=(255, 220, 0)
        )
        draw.rectangle(
            [bb.x0 * scale, bb.y0 * scale, bb.x1 * scale - 1, bb.y1 * scale - 1], outline=(255, 0, 0), width=2
        )
        draw.text((fr.x0 * scale + 3, fr.y0 * scale + 2), f"{f.score:.2f}", fill=(255, 220, 0))
    return image
