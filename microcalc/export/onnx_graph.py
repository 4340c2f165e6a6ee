"""Export :class:`~microcalc.models.tile_model.TileClassifier` to ONNX and check the result.

The TorchScript exporter (``dynamo=False``) is used: it is fast and stable for this
convolutional graph and gives plain ONNX ops that TensorRT, ONNX Runtime and OpenVINO all parse.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx
import torch

from microcalc.tensor_names import INPUT, OUTPUTS

DEFAULT_OPSET = 17
MIN_OPSET = 13  # per-channel QuantizeLinear/DequantizeLinear


def export_onnx(
    model: torch.nn.Module, path: str | Path, *, patch_size: int, opset: int = DEFAULT_OPSET
) -> None:
    """Write ``model`` (uint8 ``[N,1,P,P]`` -> ``p_cluster [N]``, ``cam [N,h,w]``) with a dynamic batch axis.

    Raises:
        ValueError: ``opset`` below :data:`MIN_OPSET`.
    """
    if opset < MIN_OPSET:
        raise ValueError(f"opset must be at least {MIN_OPSET} (per-channel Q/DQ), got {opset}")
    example = torch.zeros(2, 1, patch_size, patch_size, dtype=torch.uint8)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shape arithmetic; the graph is checked below
        torch.onnx.export(
            model.eval(),
            (example,),
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT],
            output_names=list(OUTPUTS),
            dynamic_axes={name: {0: "N"} for name in (INPUT, *OUTPUTS)},
            do_constant_folding=True,
        )
    check_onnx(path)


def check_onnx(path: str | Path) -> onnx.ModelProto:
    """``onnx.checker`` (full check, with shape inference) and the I/O contract of every variant.

    Raises:
        ValueError: the graph's inputs or outputs are not ``tiles`` uint8 / ``p_cluster``, ``cam`` float32.
    """
    onnx.checker.check_model(str(path), full_check=True)
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=True)
    inputs = [(i.name, i.type.tensor_type.elem_type) for i in model.graph.input]
    outputs = [(o.name, o.type.tensor_type.elem_type) for o in model.graph.output]
    if inputs != [(INPUT, onnx.TensorProto.UINT8)]:
        raise ValueError(f"{path}: inputs are {inputs}, expected one uint8 '{INPUT}'")
    if outputs != [(n, onnx.TensorProto.FLOAT) for n in OUTPUTS]:
        raise ValueError(f"{path}: outputs are {outputs}, expected float32 {' and '.join(OUTPUTS)}")
    return model


def output_spec(path: str | Path) -> tuple[dict, list[dict]]:
    """The manifest's ``input`` and ``outputs`` entries, read from the exported graph."""
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))

    def dims(value: onnx.ValueInfoProto) -> list:
        return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]

    inp = model.graph.input[0]
    return (
        {"name": inp.name, "dtype": "uint8", "shape": dims(inp)},
        [{"name": o.name, "dtype": "float32", "shape": dims(o)} for o in model.graph.output],
    )
