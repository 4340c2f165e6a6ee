"""The two sides of a parity check at export time: the PyTorch FP32 reference and an ONNX variant,
run by the ONNX Runtime backend class that ships it (so parity is proven on what mc-scan runs).

The reference is the checkpoint's own network on ``Preprocessing.apply`` (3-channel float
input, BatchNorm unfolded) followed by softmax: what training and the published code compute.
The comparison and its bounds are :mod:`microcalc.parity`, shared with ``mc-bench``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.errors import MicrocalcError
from microcalc.imaging.patch_sets import PatchSet
from microcalc.parity import ParityBounds, compare
from microcalc.tensor_names import OUTPUTS

BATCH = 16  # tiles per backend call: bounded memory at 674 px


class ParityError(MicrocalcError):
    """An exported variant disagrees with the PyTorch model beyond its tolerance."""


def batched(fn: Callable[[np.ndarray], np.ndarray], tiles: np.ndarray, *, batch: int = BATCH) -> np.ndarray:
    """Apply ``fn`` to ``tiles`` in batches and concatenate (bounded memory at 674 px)."""
    return (
        np.concatenate([fn(tiles[i : i + batch]) for i in range(0, len(tiles), batch)])
        if len(tiles)
        else np.zeros(0, np.float32)
    )


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


@contextmanager
def onnx_runner(
    path: str | Path, *, outputs: tuple[str, ...] = OUTPUTS
) -> Iterator[Callable[[np.ndarray], np.ndarray]]:
    """``p_cluster`` of an ONNX model on the backend that ships it: :class:`OnnxRuntimeBackend` on the CPU.

    One backend per tile shape (the triage model takes any size), all deactivated on exit.
    ``outputs``: ``(p_cluster,)`` for a model without a CAM (triage).
    """
    backends: dict[tuple[int, ...], OnnxRuntimeBackend] = {}

    def run(tiles: np.ndarray) -> np.ndarray:
        tiles = np.ascontiguousarray(tiles)
        shape = tuple(tiles.shape[1:])
        if shape not in backends:
            backends[shape] = OnnxRuntimeBackend(path, input_shape=shape, max_batch=BATCH, outputs=outputs)
            backends[shape].activate()
        return batched(lambda part: backends[shape].infer(part).p_cluster, tiles, batch=BATCH)

    try:
        yield run
    finally:
        for backend in backends.values():
            backend.deactivate()


def check_variant(
    precision: str,
    *,
    reference: np.ndarray,
    path: Path,
    patches: PatchSet,
    threshold: float,
    bounds: ParityBounds,
    log: Callable[[str], None],
) -> dict[str, Any]:
    """The parity record of one ONNX variant.

    Raises:
        ParityError: the variant breaks a bound (the caller then writes nothing).
    """
    with onnx_runner(path) as run:
        candidate = run(patches.tiles)
    verdict = compare(
        reference=reference, candidate=candidate, threshold=threshold, bounds=bounds, labels=patches.labels
    )
    if not verdict.passed:
        advice = (
            "; try --calib-method percentile or more labelled calibration patches"
            if precision == "int8"
            else ""
        )
        raise ParityError(
            f"{precision}: parity with PyTorch failed on {verdict.patches} patches "
            f"({'; '.join(verdict.failures)}){advice}; nothing was written"
        )
    log(
        f"{precision}: max |dp| {verdict.max_abs_diff:.2e}, agreement {verdict.label_agreement:.2%}"
        + (f", delta AUC {verdict.delta_auc:+.4f}" if verdict.delta_auc is not None else "")
    )
    return verdict.to_dict()
