"""Synthetic mammograms as different detectors store them: one case per file, and vendor sets.

Detectors differ in pixel spacing (about 0.05 mm Fujifilm, 0.07 mm Hologic, 0.085 mm Siemens,
0.1 mm GE), bits stored (12-16), VOI LUT function and photometric interpretation. A vendor set
shows the same breasts to a detector of each spacing (one fine rendering per breast, sampled
by each detector: :mod:`microcalc.synth.detector`), so calcifications, clusters and breasts
have the same size in mm and a different size in pixels, and only the detector differs: the
test bed for scanning at the model's spacing. Bits stored, VOI LUT function and photometric
interpretation rotate over the images.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from microcalc.atomic import write_json_atomic
from microcalc.synth.detector import sample_detector
from microcalc.synth.dicom_writer import PHOTOMETRICS, VOI_FUNCTIONS, DicomSpec, write_mammogram_dicom
from microcalc.synth.phantom import check_geometry, make_phantom

VENDOR_SPACINGS_MM = (0.05, 0.07, 0.085, 0.1)
BITS_STORED = (12, 14, 16)
SET_FORMAT = "microcalc-synth-vendor-set"
MASTER_SPACING_MM = 0.035  # a vendor set's breasts are rendered this fine, then sampled by each detector
ANATOMY = tuple(itertools.product(("CC", "MLO"), ("L", "R"), ("scattered", "fatty", "hetero", "dense")))


@dataclass(frozen=True)
class Case:
    """Everything that decides one synthetic mammogram (its file name included)."""

    name: str
    seed: int
    rows: int
    cols: int
    spacing_mm: float
    bits_stored: int = 12
    photometric: str = "MONOCHROME2"
    voi_function: str = "LINEAR"
    view: str = "CC"
    laterality: str = "L"
    density: str = "scattered"
    clusters: int = 2
    isolated: int = 6
    transfer_syntax: str = "explicit"
    intent: str = "presentation"


def write_case(out: str | Path, case: Case) -> dict:
    """Write ``case`` as an MG DICOM at ``out`` and its truth beside it (``.json``); return the truth.

    Raises ``ValueError`` for out-of-range parameters, ``OSError`` when a file cannot be written.
    """
    out = Path(out)
    phantom = make_phantom(
        seed=case.seed,
        rows=case.rows,
        cols=case.cols,
        spacing_mm=case.spacing_mm,
        view=case.view,
        laterality=case.laterality,
        density=case.density,
        clusters=case.clusters,
        isolated=case.isolated,
        bits_stored=case.bits_stored,
    )
    truth = dict(
        phantom.truth,
        photometric=case.photometric,
        voi_function=case.voi_function,
        transfer_syntax=case.transfer_syntax,
        intent=case.intent,
        dicom=out.name,
    )
    write_mammogram_dicom(out, phantom.stored, DicomSpec.from_truth(truth))
    write_json_atomic(out.with_suffix(".json"), truth)
    return truth


def detector_style(index: int) -> tuple[int, str, str]:
    """(bits stored, photometric interpretation, VOI LUT function) of the ``index``-th image of a set:
    bits and photometric rotate together through all 6 pairs, VOI functions change every 2 images."""
    return (
        BITS_STORED[index % len(BITS_STORED)],
        PHOTOMETRICS[index % len(PHOTOMETRICS)],
        VOI_FUNCTIONS[(index // 2) % len(VOI_FUNCTIONS)],
    )


def write_vendor_set(
    out_dir: str | Path,
    *,
    breasts: int,
    spacings: tuple[float, ...] = VENDOR_SPACINGS_MM,
    height_mm: float,
    width_mm: float,
    seed: int,
    clusters: int = 2,
    isolated: int = 6,
    progress: bool = False,
) -> Path:
    """The same ``breasts`` seen by a detector of each spacing: ``out_dir/s<MM>/case_NNN.dcm`` + truth.

    Breast ``i`` (seed ``seed + i``; views, lateralities and densities rotating) is rendered once at
    ``min(MASTER_SPACING_MM, spacings)`` and sampled by each detector
    (:func:`microcalc.synth.detector.sample_detector`), so its calcifications and clusters are the
    same in mm everywhere. Bits stored, photometric interpretation and VOI LUT function follow
    :func:`detector_style`. Writes ``out_dir/manifest.json`` and returns its path. Raises
    ``ValueError`` for spacings out of range or a field too small for a detector.
    """
    from rich.progress import Progress

    if breasts < 1 or not spacings:
        raise ValueError(
            f"a vendor set needs at least one breast and one spacing, got {breasts} and {spacings}"
        )
    master = min(MASTER_SPACING_MM, *spacings)
    for spacing in spacings:
        check_geometry(
            rows=round(height_mm / spacing),
            cols=round(width_mm / spacing),
            spacing_mm=spacing,
            view="CC",
            laterality="L",
            density="scattered",
            bits_stored=16,
        )
    out_dir = Path(out_dir)
    entries = []
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("synthesising mammograms", total=breasts * len(spacings))
        for i in range(breasts):
            view, laterality, density = ANATOMY[(i * 5) % len(ANATOMY)]
            breast = make_phantom(
                seed=seed + i,
                rows=round(height_mm / master),
                cols=round(width_mm / master),
                spacing_mm=master,
                view=view,
                laterality=laterality,
                density=density,
                clusters=clusters,
                isolated=isolated,
                bits_stored=16,
            )
            for k, spacing in enumerate(spacings):
                bits, photometric, voi = detector_style(i + k)
                seen = sample_detector(breast, master_spacing_mm=master, spacing_mm=spacing, bits_stored=bits)
                name = f"s{spacing:g}/case_{i:03d}.dcm"
                path = out_dir / name
                path.parent.mkdir(parents=True, exist_ok=True)
                truth = dict(seen.truth, photometric=photometric, voi_function=voi, dicom=path.name)
                spec = DicomSpec.from_truth(truth, seed=seed + i + 100_000 * (k + 1))
                write_mammogram_dicom(path, seen.stored, spec)
                write_json_atomic(path.with_suffix(".json"), truth)
                entries.append(
                    {
                        "dicom": name,
                        "truth": str(Path(name).with_suffix(".json")),
                        "breast": i,
                        "seed": seed + i,
                        "spacing_mm": spacing,
                        "rows": seen.stored.shape[0],
                        "cols": seen.stored.shape[1],
                        "bits_stored": bits,
                        "photometric": photometric,
                        "voi_function": voi,
                        "view": view,
                        "laterality": laterality,
                        "density": density,
                        "clusters": len(seen.truth["clusters"]),
                        "rendered_at_mm": master,
                    }
                )
                bar.advance(task)
    manifest = out_dir / "manifest.json"
    write_json_atomic(manifest, {"format": SET_FORMAT, "version": 2, "cases": entries})
    return manifest
