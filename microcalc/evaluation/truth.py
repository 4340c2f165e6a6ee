"""Ground truth for whole mammograms: where the clusters are, from mc-synth's JSON or a CSV.

* ``mc-synth mammogram OUT.dcm`` writes ``OUT.json`` beside the image: each cluster's centre
  ``[row, col]`` and bbox ``[row0, col0, row1, col1)``. Its radius here is the distance from the
  centre to the farthest bbox edge.
* For real data, a CSV with the header ``image,row,col,radius_mm``: one row per cluster; an image
  listed with empty cluster fields is normal. ``image`` is matched against the scanned file's
  path as given, its name, or its stem. Radii in mm need the image's Pixel Spacing.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microcalc.errors import InputError

SYNTH_FORMAT = "microcalc-synth-truth"
CSV_FIELDS = ("image", "row", "col", "radius_mm")


@dataclass(frozen=True)
class CaseTruth:
    """The clusters of one image: ``[m, 3]`` rows ``row, col, radius`` (radius in px or in mm)."""

    clusters: np.ndarray
    radius_unit: str  # "px" or "mm"
    source: str

    def in_pixels(self, spacing_mm: tuple[float, float] | None, *, image: Path) -> np.ndarray:
        """``[m, 3]`` ``row, col, radius_px``; mm radii use the mean pixel spacing."""
        if self.radius_unit == "px" or self.clusters.shape[0] == 0:
            return self.clusters
        if not spacing_mm:
            raise InputError(f"{image}: the truth gives radii in mm but the image has no pixel spacing")
        out = self.clusters.copy()
        out[:, 2] = out[:, 2] / float(np.mean(spacing_mm))
        return out


def synth_truth(image: Path) -> CaseTruth:
    """The mc-synth JSON beside ``image`` (``image`` with suffix ``.json``)."""
    path = image.with_suffix(".json")
    if not path.is_file():
        raise InputError(
            f"{image}: no ground truth (expected {path.name} from mc-synth beside it, or --truth CSV)"
        )
    try:
        data = json.loads(path.read_text())
        if data.get("format") != SYNTH_FORMAT:
            raise ValueError(f"format is {data.get('format')!r}, not {SYNTH_FORMAT}")
        rows = []
        for c in data["clusters"]:
            (row, col), (r0, c0, r1, c1) = c["center_px"], c["bbox_px"]
            rows.append((float(row), float(col), float(max(row - r0, r1 - row, col - c0, c1 - col))))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path}: not a readable mc-synth ground truth ({exc})") from exc
    return CaseTruth(
        clusters=np.array(rows, dtype=np.float64).reshape(-1, 3), radius_unit="px", source=str(path)
    )


def read_truth_csv(path: Path) -> dict[str, CaseTruth]:
    """``image -> CaseTruth`` from a ``image,row,col,radius_mm`` CSV (errors name file and line)."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: unreadable truth CSV ({exc})") from exc
    if not rows or not set(CSV_FIELDS) <= set(rows[0]):
        raise InputError(f"{path}: a truth CSV needs the header {','.join(CSV_FIELDS)} and at least one row")
    clusters: dict[str, list[tuple[float, float, float]]] = {}
    for line, row in enumerate(rows, start=2):
        image = (row["image"] or "").strip()
        if not image:
            raise InputError(f"{path}:{line}: empty image name")
        values = [(row[k] or "").strip() for k in CSV_FIELDS[1:]]
        found = clusters.setdefault(image, [])
        if not any(values):
            continue
        try:
            r, c, radius = (float(v) for v in values)
        except ValueError as exc:
            raise InputError(f"{path}:{line}: row, col and radius_mm must be numbers or all empty") from exc
        if radius <= 0:
            raise InputError(f"{path}:{line}: radius_mm must be positive, got {radius}")
        found.append((r, c, radius))
    return {
        image: CaseTruth(
            clusters=np.array(v, dtype=np.float64).reshape(-1, 3), radius_unit="mm", source=f"{path}"
        )
        for image, v in clusters.items()
    }


def truth_for(image: Path, table: dict[str, CaseTruth] | None) -> CaseTruth:
    """The truth of ``image``: from ``table`` (a truth CSV) when given, else mc-synth's JSON."""
    if table is None:
        return synth_truth(image)
    for key in (str(image), image.name, image.stem):
        if key in table:
            return table[key]
    raise InputError(f"{image}: not listed in the truth CSV (list normal images with empty cluster fields)")
