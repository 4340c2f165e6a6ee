"""FP16 variant: float tensors and weights in half precision, uint8 input and float32 outputs kept.

Strongly typed TensorRT (10/11, RTX) takes its precision from the graph, so the FP16 model must
really carry FP16 tensors. The preprocessing (cast and per-tile max scaling) and the softmax stay
in float32: they are cheap and keep the uint8-to-[0,1] mapping exact.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import onnx


def preprocessing_and_head_nodes(model: onnx.ModelProto) -> list[str]:
    """Nodes fed by the input up to the first Conv (cast, scaling) and the Softmax: kept in float32.

    Followed along the data path from the input, so weight-only nodes the exporter places first
    (e.g. Identity copies of shared biases) are still converted.
    """
    reached = {i.name for i in model.graph.input}
    names: list[str] = []
    for node in model.graph.node:  # ONNX graphs are stored in topological order
        if node.op_type != "Conv" and any(name in reached for name in node.input):
            names.append(node.name)
            reached.update(node.output)
    names += [n.name for n in model.graph.node if n.op_type == "Softmax"]
    return names


def convert_fp16(src: str | Path, dst: str | Path) -> None:
    """Write the FP16 twin of ``src`` (onnxconverter-common, ``keep_io_types=True``)."""
    from onnxconverter_common import float16

    model = onnx.load(str(src))
    with warnings.catch_warnings():
        warnings.simplefilter(
            "ignore"
        )  # one warning per weight flushed to FP16's smallest normal; parity checks it
        half = float16.convert_float_to_float16(
            model, keep_io_types=True, node_block_list=preprocessing_and_head_nodes(model)
        )
    onnx.save(half, str(dst))
