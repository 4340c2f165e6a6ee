"""What ONNX Runtime's CPU provider actually runs for bundle variants, and how fast, on this CPU.

For each ONNX file: the operators of the graph ONNX Runtime runs after its optimisations
(``SessionOptions.optimized_model_filepath``, ``ORT_ENABLE_ALL``), i.e. how many convolutions
run as integer ``QLinearConv`` and how many stay float ``Conv``; then every file is timed in
interleaved rounds, in process CPU milliseconds per patch (steady on a shared machine, where
wall time measures the neighbours) and wall milliseconds per patch.

Example: python benchmarks/ort_int8_graph.py bundle/model.onnx bundle/model.int8.onnx --batch 1
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

import click
import numpy as np

SHOWN = ("QLinearConv", "Conv", "QuantizeLinear", "DequantizeLinear", "QLinearAdd", "Add")


def _session(path: Path, optimized: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(optimized)
    options.intra_op_num_threads = threads
    options.log_severity_level = 3  # the "hardware specific optimizations" note of every save
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument(
    "models", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--batch", type=int, default=8, show_default=True, help="Tiles per run.")
@click.option("--rounds", type=int, default=3, show_default=True)
@click.option("--threads", type=int, default=2, show_default=True, help="intra_op_num_threads.")
def main(models: tuple[Path, ...], *, batch: int, rounds: int, threads: int) -> None:
    """Count the optimised graph's operators of each ONNX file and time them (see the module docstring)."""
    import onnx

    sessions = {}
    with tempfile.TemporaryDirectory() as tmp:
        for index, path in enumerate(models):
            optimized = Path(tmp) / f"{index}.onnx"
            sessions[path] = _session(path, optimized, threads)
            ops = Counter(
                node.op_type for node in onnx.load(str(optimized), load_external_data=False).graph.node
            )
            click.echo(f"{path}: " + ", ".join(f"{ops[op]} {op}" for op in SHOWN))
    patch = sessions[models[0]].get_inputs()[0].shape[2]
    tiles = {"tiles": np.random.default_rng(0).integers(0, 256, (batch, 1, patch, patch), dtype=np.uint8)}
    for session in sessions.values():
        session.run(None, tiles)
    cpu: dict[Path, list[float]] = {path: [] for path in models}
    wall: dict[Path, list[float]] = {path: [] for path in models}
    for r in range(rounds):
        for path, session in sessions.items():
            c, t = time.process_time(), time.perf_counter()
            session.run(None, tiles)
            cpu[path].append((time.process_time() - c) * 1e3 / batch)
            wall[path].append((time.perf_counter() - t) * 1e3 / batch)
        click.echo(
            f"round {r}: load {os.getloadavg()[0]:.1f}; " + ", ".join(f"{cpu[p][-1]:.1f}" for p in models)
        )
    for path in models:
        click.echo(
            f"median {path}: {statistics.median(cpu[path]):.1f} cpu-ms, "
            f"{statistics.median(wall[path]):.1f} wall-ms per patch (batch {batch})"
        )


if __name__ == "__main__":
    main()
