"""Balanced patch sets (``cluster/`` and ``normal/`` PNGs) cut from synthetic tissue phantoms.

Each phantom is a field of breast tissue ``GRID*P`` pixels square, converted to 8 bits exactly
as a scanned mammogram is: stored DM values, the window its DICOM header would carry, then
:func:`microcalc.imaging.present` (Modality LUT, VOI LUT, ``to_uint8``). It is cut into
``GRID x GRID`` non-overlapping cells: half hold one whole cluster (jittered, extent at most
``0.7 * P`` and at most 1 cm), the others none but possibly single specks and vessels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from microcalc.atomic import atomic_path, write_json_atomic
from microcalc.imaging import present
from microcalc.synth.anatomy import DENSITIES, tissue_field
from microcalc.synth.appearance import draw_appearance, render_detector, render_tissue
from microcalc.synth.appearance import window as appearance_window
from microcalc.synth.calcs import (
    Speck,
    cluster_extent_px,
    cluster_specks,
    cluster_truth,
    draw_specks,
    filling_specks,
    isolated_speck,
)
from microcalc.synth.dicom_writer import PHOTOMETRICS, DicomSpec, build_header, stored_for
from microcalc.synth.phantom import (
    DEFAULT_SPACING_MM,
    check_choice,
    check_spacing,
    presentation_window,
    to_stored,
)

MIN_PATCH, MAX_PATCH = 32, 1024
_DENSITY_WEIGHTS = (0.2, 0.35, 0.3, 0.15)
BITS_STORED = 12


def _grid(patch_size: int) -> int:
    """Cells per phantom side: many small cells per FFT, few large ones to bound memory."""
    return 4 if patch_size <= 256 else 2


FRAMINGS = ("whole", "inside")


@dataclass(frozen=True)
class PatchStyle:
    """How patches are made: pixel size, cluster framing, and domain randomisation.

    ``framing="whole"`` puts one whole cluster (extent at most ``0.7 * P``, 1 cm) in a cluster
    patch; ``"inside"`` fills the patch with 5-30 specks, a patch cut inside a larger cluster as
    real 60 px (5 mm) sets are. ``randomise`` draws each phantom's rendering (tissue contrast,
    fine texture, blur, noise, window) from :mod:`microcalc.synth.appearance`. ``density`` fixes
    the BI-RADS density (default: drawn per phantom), ``noise`` adds detector noise of that many
    grey levels of the displayed image, ``photometric="MONOCHROME1"`` stores the phantom inverted
    and reads it back through the inversion: the shifts of validation sets that differ from training.
    """

    spacing_mm: float = DEFAULT_SPACING_MM
    framing: str = "whole"
    randomise: bool = False
    density: str | None = None
    noise: float = 0.0
    photometric: str = "MONOCHROME2"

    def __post_init__(self) -> None:
        check_spacing(self.spacing_mm)
        check_choice("framing", self.framing, FRAMINGS)
        if self.density is not None:
            check_choice("density", self.density, DENSITIES)
        if self.photometric not in PHOTOMETRICS or not 0.0 <= self.noise <= 50.0:
            raise ValueError(
                f"photometric must be one of {PHOTOMETRICS} and noise in 0..50, got "
                f"{self.photometric!r} and {self.noise}"
            )


def _cell_specks(
    kind: str, *, top: int, left: int, patch_size: int, style: PatchStyle, rng: np.random.Generator
) -> list[Speck]:
    spacing_mm = style.spacing_mm
    if kind == "cluster" and style.framing == "inside":
        return filling_specks(top=top, left=left, size=patch_size, spacing_mm=spacing_mm, rng=rng)
    if kind == "cluster":
        extent = cluster_extent_px(spacing_mm=spacing_mm, rng=rng, at_most_px=0.7 * patch_size)
        lo, hi = extent / 2.0 + 2.0, patch_size - extent / 2.0 - 2.0
        row, col = top + rng.uniform(lo, hi), left + rng.uniform(lo, hi)
        return cluster_specks(row=row, col=col, extent_px=extent, spacing_mm=spacing_mm, rng=rng)
    singles = int(rng.choice([0, 1, 1, 2, 3]))
    margin = 6.0
    return [
        isolated_speck(
            top + rng.uniform(margin, patch_size - margin),
            left + rng.uniform(margin, patch_size - margin),
            spacing_mm=spacing_mm,
            rng=rng,
        )
        for _ in range(singles)
    ]


def phantom_patches(
    kinds: list[str], *, patch_size: int, seed_seq: np.random.SeedSequence, style: PatchStyle = PatchStyle()
) -> list[tuple[np.ndarray, dict]]:
    """One tissue phantom cut into ``len(kinds)`` uint8 patches, cell ``i`` of kind ``kinds[i]``.

    Each patch comes with its ground truth in patch coordinates: the cluster (``cluster_truth``)
    for a positive cell, the isolated specks for a negative one.
    """
    rng = np.random.default_rng(seed_seq)
    spacing_mm = style.spacing_mm
    grid = _grid(patch_size)
    side = grid * patch_size
    density = style.density or str(rng.choice(DENSITIES, p=_DENSITY_WEIGHTS))
    field = tissue_field(rows=side, cols=side, spacing_mm=spacing_mm, density=density, rng=rng)
    look = draw_appearance(rng) if style.randomise else None
    attenuation = render_tissue(field.attenuation, look, rng=rng) if look else field.attenuation
    cells = [(i // grid * patch_size, i % grid * patch_size) for i in range(len(kinds))]
    truths = []
    for kind, (top, left) in zip(kinds, cells):
        specks = _cell_specks(kind, top=top, left=left, patch_size=patch_size, style=style, rng=rng)
        draw_specks(attenuation, specks, rng=rng)
        local = [replace(s, row=s.row - top, col=s.col - left) for s in specks]
        truths.append(
            {
                "label": kind,
                "cluster": cluster_truth(local, spacing_mm=spacing_mm, index=0)
                if kind == "cluster"
                else None,
                "isolated_calcifications": [] if kind == "cluster" else [s.truth(spacing_mm) for s in local],
            }
        )
    if look:
        attenuation = render_detector(attenuation, look, spacing_mm=spacing_mm, rng=rng)
    stored = to_stored(attenuation, bits_stored=BITS_STORED)
    window = (
        appearance_window(attenuation, look, bits_stored=BITS_STORED)
        if look
        else presentation_window(stored, field.mask)
    )
    if style.noise > 0:
        noisy = stored + rng.normal(0.0, style.noise * window[1] / 255.0, size=stored.shape)
        stored = np.clip(np.rint(noisy), 0, 2**BITS_STORED - 1).astype(np.uint16)
    spec = DicomSpec(
        seed=0,
        spacing_mm=spacing_mm,
        view="CC",
        laterality="L",
        bits_stored=BITS_STORED,
        window=window,
        photometric=style.photometric,
    )
    header = build_header(spec, rows=side, cols=side)
    image = present(stored_for(stored, bits_stored=BITS_STORED, photometric=style.photometric), header)
    return [
        (np.ascontiguousarray(image[t : t + patch_size, c : c + patch_size]), truth)
        for (t, c), truth in zip(cells, truths)
    ]


def _save_png(path: Path, patch: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        Image.fromarray(patch, mode="L").save(tmp, format="PNG")


def write_patch_set(
    out_dir: str | Path,
    *,
    n: int,
    patch_size: int,
    seed: int = 0,
    style: PatchStyle = PatchStyle(),
    progress: bool = False,
) -> dict[str, int]:
    """Write ``n`` patches (half ``cluster/``, half ``normal/``) of ``patch_size`` px; return counts.

    ``OUT/truth.json`` maps each patch's relative path to its ground truth in patch pixels
    (the cluster's centre, bbox ``[row0, col0, row1, col1)`` and specks, or the isolated specks of
    a normal patch), for localisation checks such as CAM peaks. Deterministic for a seed. Raises
    ``ValueError`` for out-of-range ``n`` or ``patch_size``.
    """
    if n < 2:
        raise ValueError(f"--n must be at least 2, got {n}")
    if not MIN_PATCH <= patch_size <= MAX_PATCH:
        raise ValueError(f"patch size {patch_size} out of range {MIN_PATCH}..{MAX_PATCH}")
    out = Path(out_dir)
    for sub in ("cluster", "normal"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    n_pos = n // 2
    kinds = ["cluster"] * n_pos + ["normal"] * (n - n_pos)
    np.random.default_rng(seed).shuffle(kinds)
    per_phantom = _grid(patch_size) ** 2
    chunks = [kinds[i : i + per_phantom] for i in range(0, n, per_phantom)]
    seeds = np.random.SeedSequence(seed).spawn(len(chunks))
    counts = {"cluster": 0, "normal": 0}
    truths: dict[str, dict] = {}
    from rich.progress import Progress

    with Progress(transient=True, disable=not progress) as bar:
        task = bar.add_task("synthesising patches", total=n)
        for chunk, seq in zip(chunks, seeds):
            for kind, (patch, truth) in zip(
                chunk, phantom_patches(chunk, patch_size=patch_size, seed_seq=seq, style=style)
            ):
                name = f"{kind}/{kind}_{counts[kind]:05d}.png"
                _save_png(out / name, patch)
                truths[name] = truth
                counts[kind] += 1
            bar.advance(task, len(chunk))
    truth = {
        "patch_size": patch_size,
        "spacing_mm": style.spacing_mm,
        "seed": seed,
        "framing": style.framing,
        "randomised": style.randomise,
        "density": style.density,
        "noise": style.noise,
        "photometric": style.photometric,
        "patches": truths,
    }
    write_json_atomic(out / "truth.json", truth, indent=1)
    return counts
