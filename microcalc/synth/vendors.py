"""Synthetic mammograms as different detectors store them: one case per file, and mixed vendor sets.

Detectors differ in pixel spacing (about 0.05 mm Fujifilm, 0.07 mm Hologic, 0.085 mm Siemens,
0.1 mm GE), bits stored (12-16), VOI LUT function and photometric interpretation. A vendor set
holds the same physical field of view (``height_mm`` x ``width_mm``) at each spacing, so
calcifications, clusters and breasts have the same size in mm and a different size in pixels:
the test bed for scanning at the model's spacing. Bits stored, VOI LUT function and
photometric interpretation cycle over the cases of each spacing.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from pathlib import Path

from microcalc.bundle import write_json_atomic
from microcalc.synth.dicom_writer import PHOTOMETRICS, VOI_FUNCTIONS, write_mammogram_dicom
from microcalc.synth.phantom import make_phantom

VENDOR_SPACINGS_MM = (0.05, 0.07, 0.085, 0.1)
BITS_STORED = (12, 14, 16)
SET_FORMAT = "microcalc-synth-vendor-set"


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
    phantom = make_phantom(seed=case.seed, rows=case.rows, cols=case.cols, spacing_mm=case.spacing_mm,
                           view=case.view, laterality=case.laterality, density=case.density,
                           clusters=case.clusters, isolated=case.isolated, bits_stored=case.bits_stored)
    truth = dict(phantom.truth, photometric=case.photometric, voi_function=case.voi_function,
                 transfer_syntax=case.transfer_syntax, intent=case.intent, dicom=out.name)
    w = truth["window"]
    write_mammogram_dicom(out, phantom.stored, seed=case.seed, spacing_mm=case.spacing_mm, view=case.view,
                          laterality=case.laterality, bits_stored=case.bits_stored, window=(w["center"], w["width"]),
                          photometric=case.photometric, voi_function=case.voi_function,
                          transfer_syntax=case.transfer_syntax, intent=case.intent)
    write_json_atomic(out.with_suffix(".json"), truth)
    return truth


def vendor_cases(*, per_spacing: int, spacings: tuple[float, ...] = VENDOR_SPACINGS_MM, height_mm: float,
                 width_mm: float, seed: int, clusters: int = 2, isolated: int = 6) -> list[Case]:
    """``per_spacing`` cases at each spacing over the same ``height_mm`` x ``width_mm`` field.

    Seeds differ for every case (``seed + 1000 * k + i`` for spacing ``k``, case ``i``); views,
    lateralities and densities rotate so that each spacing sees the same mix.
    """
    if per_spacing < 1 or not spacings:
        raise ValueError(f"a vendor set needs at least one case and one spacing, got {per_spacing} and {spacings}")
    cases = []
    anatomy = list(itertools.product(("CC", "MLO"), ("L", "R"), ("scattered", "fatty", "hetero", "dense")))
    for k, spacing in enumerate(spacings):
        for i in range(per_spacing):
            j = i + k  # bits and photometric rotate together through all 6 pairs, VOI functions every 2 cases
            bits, photometric = BITS_STORED[j % len(BITS_STORED)], PHOTOMETRICS[j % len(PHOTOMETRICS)]
            voi = VOI_FUNCTIONS[(j // 2) % len(VOI_FUNCTIONS)]
            view, laterality, density = anatomy[(i * 5) % len(anatomy)]
            cases.append(Case(name=f"s{spacing:g}/case_{i:03d}.dcm", seed=seed + 1000 * k + i,
                              rows=round(height_mm / spacing), cols=round(width_mm / spacing), spacing_mm=spacing,
                              bits_stored=bits, photometric=photometric, voi_function=voi, view=view,
                              laterality=laterality, density=density, clusters=clusters, isolated=isolated))
    return cases


def write_vendor_set(out_dir: str | Path, cases: list[Case], *, progress: bool = False) -> Path:
    """Write every case under ``out_dir`` and ``out_dir/manifest.json`` (the cases and their truth files)."""
    from rich.progress import Progress

    out_dir = Path(out_dir)
    entries = []
    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("synthesising mammograms", total=len(cases))
        for case in cases:
            path = out_dir / case.name
            path.parent.mkdir(parents=True, exist_ok=True)
            truth = write_case(path, case)
            entries.append({**asdict(case), "dicom": case.name, "truth": str(Path(case.name).with_suffix(".json")),
                            "clusters_placed": len(truth["clusters"])})
            bar.advance(task)
    manifest = out_dir / "manifest.json"
    write_json_atomic(manifest, {"format": SET_FORMAT, "version": 1, "cases": entries})
    return manifest
