"""One breast, many detectors: sample a fine rendering of a phantom with a detector's pixel size.

A detector pixel integrates the X-ray field over its area, so a coarser detector sees the same
breast as the area average of a finer one (:func:`microcalc.imaging.resample.resample_float`).
The phantom is rendered once at a fine ``master`` spacing, with its quantum noise at that
spacing (:func:`microcalc.synth.anatomy.quantum_noise_std`); averaging it over a detector pixel
leaves exactly the noise a detector of that pixel size would record for the same dose. The
result is the same breast, calcifications and clusters at every spacing, differing only in
how the detector sampled them, then stored with the detector's bits and its own window.
"""

from __future__ import annotations

import copy
import math

import numpy as np

from microcalc.imaging.resample import resample_float
from microcalc.synth.phantom import Phantom, presentation_window


def _box(box: list[int], f: float) -> list[int]:
    r0, c0, r1, c1 = box
    return [math.floor(r0 * f), math.floor(c0 * f), math.ceil(r1 * f), math.ceil(c1 * f)]


def _speck(speck: dict, f: float) -> dict:
    return {
        **speck,
        "row": round(speck["row"] * f, 2),
        "col": round(speck["col"] * f, 2),
        "diameter_px": round(speck["diameter_px"] * f, 2),
    }


def scaled_truth(truth: dict, *, factor: float, spacing_mm: float, rows: int, cols: int) -> dict:
    """``truth`` of a phantom in the pixels of a grid ``factor`` times as fine (``factor < 1``: coarser).

    Pixel coordinates follow the grid model of :mod:`microcalc.imaging.resample` (a point at ``x``
    is at ``x * factor``); millimetres do not change.
    """
    out = copy.deepcopy(truth)
    out.update(
        rows=rows,
        cols=cols,
        pixel_spacing_mm=spacing_mm,
        breast_bbox_px=_box(truth["breast_bbox_px"], factor),
    )
    for cluster in out["clusters"]:
        r, c = cluster["center_px"]
        cluster.update(
            center_px=[round(r * factor, 2), round(c * factor, 2)],
            bbox_px=_box(cluster["bbox_px"], factor),
            calcifications=[_speck(s, factor) for s in cluster["calcifications"]],
        )
    negatives = out["hard_negatives"]
    negatives["isolated_calcifications"] = [_speck(s, factor) for s in negatives["isolated_calcifications"]]
    for vessel in negatives["vessels"]:
        vessel["path_px"] = [[round(r * factor, 1), round(c * factor, 1)] for r, c in vessel["path_px"]]
    return out


def sample_detector(
    master: Phantom, *, master_spacing_mm: float, spacing_mm: float, bits_stored: int
) -> Phantom:
    """``master`` seen by a detector of ``spacing_mm`` pixels storing ``bits_stored`` bits (a new phantom).

    Stored values keep their fraction of full scale; the window is the detector's own
    (:func:`~microcalc.synth.phantom.presentation_window` on its pixels).
    """
    if spacing_mm < master_spacing_mm:
        raise ValueError(f"a detector of {spacing_mm} mm cannot sample a rendering at {master_spacing_mm} mm")
    factor = master_spacing_mm / spacing_mm
    rows, cols = (max(1, round(n * factor)) for n in master.stored.shape)
    level = resample_float(master.stored, (rows, cols)) / np.float32(
        2 ** int(master.truth["bits_stored"]) - 1
    )
    full = 2**bits_stored - 1
    stored = np.clip(np.rint(level * full), 0, full).astype(np.uint16)
    mask = resample_float(master.mask.astype(np.float32), (rows, cols)) >= 0.5
    center, width = presentation_window(stored, mask)
    truth = scaled_truth(master.truth, factor=factor, spacing_mm=spacing_mm, rows=rows, cols=cols)
    truth.update(
        bits_stored=bits_stored, window={"center": center, "width": width}, rendered_at_mm=master_spacing_mm
    )
    return Phantom(stored=stored, truth=truth, mask=mask)
