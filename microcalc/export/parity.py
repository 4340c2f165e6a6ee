"""The two sides of a parity check at export time: the PyTorch FP32 reference and an ONNX variant.

The reference is the checkpoint's own network on ``Preprocessing.apply`` (3-channel float
input, BatchNorm unfolded) followed by softmax: what training and the published code compute.
The comparison and its bounds are :mod:`microcalc.parity`, shared with ``mc-bench``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from microcalc.errors import MicrocalcError
from microcalc.tensor_names import INPUT, P_CLUSTER


class ParityError(MicrocalcError):
    """An exported variant disagrees with the PyTorch model beyond its tolerance."""


def batched(fn: Callable[[np.ndarray], np.ndarray], tiles: np.ndarray, *, batch: int = 16) -> np.ndarray:
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


def onnx_runner(path: str) -> Callable[[np.ndarray], np.ndarray]:
    """``p_cluster`` from an ONNX model in ONNX Runtime on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda tiles: session.run([P_CLUSTER], {INPUT: np.ascontiguousarray(tiles)})[0]
