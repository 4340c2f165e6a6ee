"""Parity of an exported variant against the PyTorch FP32 model, as small functions.

The reference is the checkpoint's own network on ``Preprocessing.apply`` (3-channel float
input, BatchNorm unfolded) followed by softmax: what training and the published code compute.
Tolerances are arguments; :func:`check_parity` turns figures into a pass/fail.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from microcalc.errors import MicrocalcError

FP32_ATOL = 1e-4
FP16_ATOL = 1e-2
INT8_MIN_AGREEMENT = 0.99


class ParityError(MicrocalcError):
    """An exported variant disagrees with the PyTorch model beyond its tolerance."""


def batched(fn: Callable[[np.ndarray], np.ndarray], tiles: np.ndarray, *, batch: int = 16) -> np.ndarray:
    """Apply ``fn`` to ``tiles`` in batches and concatenate (bounded memory at 674 px)."""
    return np.concatenate([fn(tiles[i:i + batch]) for i in range(0, len(tiles), batch)]) if len(tiles) else \
        np.zeros(0, np.float32)


def torch_reference(checkpoint: Any) -> Callable[[np.ndarray], np.ndarray]:
    """``p_cluster`` of the unmodified checkpoint model with its own numpy preprocessing."""
    import torch

    model = checkpoint.build_model()
    spec = checkpoint.config.preprocessing
    pos = checkpoint.config.positive_index

    def run(tiles: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            logits = model(torch.from_numpy(spec.apply(tiles)))
        return torch.softmax(logits, dim=1)[:, pos].numpy()

    return run


def onnx_runner(path: str) -> Callable[[np.ndarray], np.ndarray]:
    """``p_cluster`` from an ONNX model in ONNX Runtime on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda tiles: session.run(["p_cluster"], {"tiles": np.ascontiguousarray(tiles)})[0]


def parity_figures(reference: np.ndarray, candidate: np.ndarray, *, threshold: float,
                   labels: np.ndarray | None = None) -> dict[str, Any]:
    """Max/mean absolute difference of ``p_cluster``, label agreement at ``threshold``, and AUCs.

    AUCs (reference, candidate, delta) are given only when ``labels`` are all known and hold both classes.
    """
    diff = np.abs(np.asarray(candidate, np.float64) - np.asarray(reference, np.float64))
    figures: dict[str, Any] = {
        "n": int(len(diff)),
        "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
        "mean_abs_diff": float(diff.mean()) if len(diff) else 0.0,
        "label_agreement": float(np.mean((reference >= threshold) == (candidate >= threshold))) if len(diff) else 1.0,
        "threshold": threshold,
    }
    if labels is not None and len(labels) and (labels >= 0).all() and len(np.unique(labels)) == 2:
        from sklearn.metrics import roc_auc_score

        figures["auc_reference"] = float(roc_auc_score(labels, reference))
        figures["auc"] = float(roc_auc_score(labels, candidate))
        figures["auc_delta"] = figures["auc"] - figures["auc_reference"]
    return figures


def check_parity(name: str, figures: dict[str, Any], *, atol: float | None = None,
                 min_agreement: float | None = None) -> None:
    """Raise :class:`ParityError` when ``figures`` break ``atol`` (max abs diff) or ``min_agreement``."""
    if atol is not None and figures["max_abs_diff"] > atol:
        raise ParityError(f"{name}: p_cluster differs from PyTorch by up to {figures['max_abs_diff']:.3g} "
                          f"(allowed {atol:g}) on {figures['n']} patches; nothing was written")
    if min_agreement is not None and figures["label_agreement"] < min_agreement:
        raise ParityError(f"{name}: labels agree with PyTorch on {figures['label_agreement']:.1%} of "
                          f"{figures['n']} patches (need {min_agreement:.0%}); try --calib-method "
                          f"percentile or more calibration patches; nothing was written")


def tolerances(precision: str, *, labelled: bool) -> dict[str, float | None]:
    """The export-time bounds of each precision (INT8's agreement bound only on labelled sets)."""
    if precision == "fp32":
        return {"atol": FP32_ATOL, "min_agreement": None}
    if precision == "fp16":
        return {"atol": FP16_ATOL, "min_agreement": None}
    return {"atol": None, "min_agreement": INT8_MIN_AGREEMENT if labelled else None}
