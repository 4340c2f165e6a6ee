"""Pictures of a scan: the overview a reader reads at a glance, and a full-resolution crop per finding.

The overview is what a CAD viewer shows: the mammogram in grey at a readable size (at most
``max_side`` pixels on its long side), each finding outlined at its CAM box with its rank and score
beside it (rank 1 = highest score), and in the corner away from the breast the laterality and view,
the operating point and the number of findings. A normal image therefore shows grey only. The tile
heat map (a red veil whose opacity grows with the score, each pixel showing the highest score of the
tiles covering it) is drawn only on request (``mc-scan --heatmap``), and only for tiles at or above
``HEAT_FLOOR``: below it the veil carpeted every breast and hid the marks.

A zoom crop is the scanned image (the model's pixel spacing) around one finding's box with
``ZOOM_MARGIN_MM`` on every side, unscaled, so the calcifications themselves can be seen; the box is
outlined just outside itself so that no calcification is covered.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from microcalc.engine.findings import Box, Finding
from microcalc.engine.geometry import ScanGeometry
from microcalc.engine.tiler import TileGrid

VEIL = np.array([255.0, 32.0, 0.0], dtype=np.float32)
MARK = (255, 214, 0)  # yellow: stands out on grey, the usual CAD calcification colour
HEAT_FLOOR = 0.1
ZOOM_MARGIN_MM = 3.0


def ranked(findings: list[Finding]) -> list[tuple[int, Finding]]:
    """``(rank, finding)`` by descending score, rank 1 first: the order the overview and crops name."""
    order = sorted(range(len(findings)), key=lambda i: (-findings[i].score, i))
    return [(rank, findings[i]) for rank, i in enumerate(order, start=1)]


def overview(
    pixels: np.ndarray,
    grid: TileGrid | None,
    scores: np.ndarray,
    findings: list[Finding],
    *,
    corner: tuple[str, ...] = (),
    heatmap: bool = False,
    max_side: int = 1024,
    opacity: float = 0.5,
) -> Image.Image:
    """The RGB overview of one scan (see the module docstring); ``corner`` holds its corner lines.

    ``pixels``, ``grid``, ``scores`` and ``findings`` are all in the *scanned* grid (after resampling
    to the model's spacing: ``ScanResult.image``, ``grid``, ``scores`` and ``scan_findings``), so the
    picture shows the image as it was scanned; the report's coordinates are in the original grid.
    """
    rows, cols = pixels.shape
    scale = min(1.0, max_side / max(rows, cols))
    size = (max(1, round(cols * scale)), max(1, round(rows * scale)))
    gray = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR), dtype=np.float32)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    if heatmap and grid is not None:
        heat = np.zeros((size[1], size[0]), dtype=np.float32)
        p = grid.size
        for y, x, s in zip(grid.ys, grid.xs, scores):
            region = heat[int(y * scale) : int((y + p) * scale), int(x * scale) : int((x + p) * scale)]
            np.maximum(region, float(s), out=region)
        alpha = (np.where(heat >= HEAT_FLOOR, np.clip(heat, 0.0, 1.0), 0.0) * opacity)[..., None]
        rgb = rgb * (1.0 - alpha) + VEIL * alpha
    image = Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8), mode="RGB")
    draw = ImageDraw.Draw(image)
    font = _font(max(12, round(max(size) / 55)))
    for rank, f in ranked(findings):
        _mark(draw, f.bbox, scale, f"#{rank} {f.score:.2f}", font=font, image_size=size)
    if corner:
        _corner(draw, list(corner), font=font, left=_left_is_empty(gray), width=size[0])
    return image


def corner_lines(report: dict[str, Any]) -> tuple[str, ...]:
    """The overview's corner: laterality and view, the operating point, how many findings."""
    from microcalc.operating_points import point_label

    side = (
        " ".join(str(v) for v in (report.get("laterality"), report.get("view")) if v) or "laterality/view ?"
    )
    n = len(report.get("findings", ()))
    point = point_label(report["operating_point"]) if report.get("operating_point") else "threshold ?"
    point = f"operating point {point}"
    return (side, point, f"{n} finding{'s' if n != 1 else ''}" if n else "no findings")


def scanned_spacing_mm(geometry: ScanGeometry | None) -> float | None:
    """The pixel spacing of the scanned grid: the model's when resampled, else the image's own."""
    if geometry is None:
        return None
    if geometry.resampled or geometry.spacing is None:
        return geometry.model_spacing_mm
    return geometry.spacing.col_mm


def zoom_crop(pixels: np.ndarray, box: Box, *, spacing_mm: float | None) -> tuple[Image.Image, Box]:
    """The grey crop around ``box`` (``ZOOM_MARGIN_MM`` each side, unscaled, box outlined outside
    itself) and the crop's own rectangle in ``pixels``; without a spacing, 0.1 mm is assumed."""
    rows, cols = pixels.shape
    m = max(8, round(ZOOM_MARGIN_MM / (spacing_mm or 0.1)))
    crop = Box(max(0, box.x0 - m), max(0, box.y0 - m), min(cols, box.x1 + m), min(rows, box.y1 + m))
    image = Image.fromarray(pixels[crop.y0 : crop.y1, crop.x0 : crop.x1]).convert("RGB")
    outline = [box.x0 - crop.x0 - 2, box.y0 - crop.y0 - 2, box.x1 - crop.x0 + 1, box.y1 - crop.y0 + 1]
    ImageDraw.Draw(image).rectangle(outline, outline=MARK, width=1)
    return image, crop


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _mark(draw: ImageDraw.ImageDraw, box: Box, scale: float, label: str, *, font, image_size) -> None:
    """Outline ``box`` (a few pixels outside it, at least 12 px across) and write ``label`` beside it."""
    cx, cy = (box.x0 + box.x1) / 2 * scale, (box.y0 + box.y1) / 2 * scale
    half_w = max(6.0, (box.x1 - box.x0) / 2 * scale + 3)
    half_h = max(6.0, (box.y1 - box.y0) / 2 * scale + 3)
    rect = [cx - half_w, cy - half_h, cx + half_w, cy + half_h]
    draw.rectangle(rect, outline=(0, 0, 0), width=4)  # a dark rim keeps the mark visible on bright tissue
    draw.rectangle(rect, outline=MARK, width=2)
    width, height = image_size
    _, ty0, tx1, ty1 = draw.textbbox((0, 0), label, font=font)
    x = rect[2] + 4 if rect[2] + 4 + tx1 < width else rect[0] - 4 - tx1
    y = min(max(0.0, rect[1]), height - ty1 - 2)
    draw.rectangle([x - 2, y + ty0 - 2, x + tx1 + 2, y + ty1 + 2], fill=(0, 0, 0))
    draw.text((x, y), label, fill=MARK, font=font)


def _left_is_empty(gray: np.ndarray) -> bool:
    """Whether the top-left corner holds less breast than the top-right (where the text goes)."""
    h, w = gray.shape
    top = gray[: max(1, h // 4)]
    return float(top[:, : w // 3].mean()) <= float(top[:, w - w // 3 :].mean())


def _corner(draw: ImageDraw.ImageDraw, lines: list[str], *, font, left: bool, width: int) -> None:
    y = 6
    for line in lines:
        _, y0, x1, y1 = draw.textbbox((0, 0), line, font=font)
        x = 8 if left else width - 8 - x1
        draw.rectangle([x - 3, y + y0 - 3, x + x1 + 3, y + y1 + 3], fill=(0, 0, 0))
        draw.text((x, y), line, fill=(255, 255, 255), font=font)
        y += y1 + 8
