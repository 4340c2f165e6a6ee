"""INT8 variant: explicit Q/DQ nodes calibrated on real patches (ONNX Runtime's quantisation tools).

TensorRT 11 and TensorRT-RTX have no implicit INT8 calibration; the precision must be in the
graph as QuantizeLinear/DequantizeLinear pairs. The same Q/DQ model runs in ONNX Runtime and
OpenVINO. Choices, all for accuracy or for what TensorRT accepts:

* only convolutions are quantised (weights per output channel, activations per tensor), the
  preprocessing, the classifier head, the softmax and the CAM stay float32;
* activations and weights are signed and symmetric (zero point 0) and biases stay float, the
  form strongly typed TensorRT parses (it rejects int32 bias DequantizeLinear);
* calibration runs the float model over uint8 tiles exactly as the scanner feeds them.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Iterator

import numpy as np

CALIB_METHODS = ("minmax", "entropy", "percentile")
RECOMMENDED_CALIB = 300


class TileReader:
    """``CalibrationDataReader`` over uint8 tiles ``[N, 1, P, P]``, in batches."""

    def __init__(self, tiles: np.ndarray, *, input_name: str = "tiles", batch: int = 8) -> None:
        self._batches: Iterator[np.ndarray] = iter([tiles[i:i + batch] for i in range(0, len(tiles), batch)])
        self._name = input_name

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {self._name: np.ascontiguousarray(batch)}


def quantize_int8(src: str | Path, dst: str | Path, *, tiles: np.ndarray, method: str = "minmax",
                  batch: int = 8) -> None:
    """Write a Q/DQ INT8 model of ``src`` calibrated on ``tiles``.

    Raises:
        ValueError: unknown ``method`` or no calibration tiles.
    """
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile}
    if method not in methods:
        raise ValueError(f"unknown calibration method {method!r}; choose one of {', '.join(CALIB_METHODS)}")
    if len(tiles) == 0:
        raise ValueError("no calibration tiles")

    class Reader(TileReader, CalibrationDataReader):
        pass

    # ORT logs "consider pre-processing" at WARNING on every call; the graph is already folded and inferred.
    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_static(
            str(src), str(dst), Reader(tiles, batch=batch), quant_format=QuantFormat.QDQ,
            op_types_to_quantize=["Conv"], per_channel=True, activation_type=QuantType.QInt8,
            weight_type=QuantType.QInt8, calibrate_method=methods[method],
            extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False,
                           "CalibMovingAverage": method == "minmax", "CalibPercentile": 99.99},
        )
