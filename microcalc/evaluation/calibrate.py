"""``mc-froc --calibrate``: image-level operating points from a FROC, written into the bundle.

Only ``bundle.json`` changes: the model files and their SHA-256 entries are untouched, the new
manifest is written atomically, and the bundle is loaded again with every hash verified before
the command reports success.
"""

from __future__ import annotations

from typing import Any

from microcalc.atomic import write_json_atomic
from microcalc.bundle import MANIFEST, Bundle
from microcalc.evaluation.froc import FrocCurve
from microcalc.operating_points import IMAGE_DEFAULT, OperatingPoint, OperatingPoints

CALIBRATED_FP = (0.1, 0.25, 0.5, 1.0)


def image_points(curve: FrocCurve, *, scan: dict[str, Any]) -> tuple[list[OperatingPoint], list[str]]:
    """``fp0.1 fp0.25 fp0.5 fp1`` from ``curve``; returns the points and a note per budget out of reach."""
    points, notes = [], []
    for target in CALIBRATED_FP:
        name = f"fp{target:g}"
        at = curve.at_fp(target)
        if at is None:
            notes.append(
                f"{name}: even the highest threshold gives more than {target:g} false positives per image"
            )
            continue
        points.append(
            OperatingPoint(
                name=name,
                threshold=at["threshold"],
                level="image",
                criterion=f"lowest threshold with at most {target:g} false positives per image on "
                f"{curve.n_images} mammograms ({curve.n_clusters} clusters)",
                measured={
                    "sensitivity": at["sensitivity"],
                    "fp_per_image": at["fp_per_image"],
                    "images": curve.n_images,
                    "clusters": curve.n_clusters,
                    **scan,
                },
            )
        )
    return points, notes


def write_points(bundle: Bundle, points: list[OperatingPoint], *, default: str = IMAGE_DEFAULT) -> Bundle:
    """Add ``points`` to the bundle's manifest (replacing same-named ones), make ``default`` the default
    when it is among them, and return the bundle reloaded with all SHA-256 checks."""
    current = bundle.operating_points
    chosen = default if default in {p.name for p in points} else None
    merged: OperatingPoints = current.merged(points, default=chosen)
    manifest = {**bundle.manifest, **merged.manifest_entries(fallback=bundle.threshold)}
    write_json_atomic(bundle.path / MANIFEST, manifest)
    return Bundle.load(bundle.path, verify=True)
