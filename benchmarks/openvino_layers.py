"""Where OpenVINO spends a model's time, and what its compile settings change, on this CPU.

Two measurements of one ONNX variant (e.g. a bundle's ``model.int8.onnx``):

* ``--profile``: OpenVINO's performance counters (``PERF_COUNT``) of one batch, summed per layer
  type and executed kernel (``brgconv_avx512_amx_I8`` is AMX INT8, ``brgconv_avx512_I8`` is
  AVX512-VNNI INT8, ``..._f32`` is float), and every convolution or matrix product that does not
  run in INT8 (the first convolution, kept float by ``mc-export``, the classifier and the CAM).
* the settings given as ``NAME:HINT:PRECISION:BATCH:REQUESTS`` (e.g. ``lat:LATENCY:f32:8:1``),
  compiled side by side in one process and timed in interleaved rounds, in process CPU
  milliseconds per patch (steady on a shared machine, where wall time measures the neighbours)
  and in wall milliseconds per patch.

Example: python benchmarks/openvino_layers.py bundle/model.int8.onnx --profile \\
    --setting lat:LATENCY:f32:8:1 --setting tput:THROUGHPUT:f32:4:2
"""

from __future__ import annotations

import os
import statistics
import time
from collections import Counter
from pathlib import Path

import click
import numpy as np

MATRIX_LAYERS = ("Convolution", "FullyConnected", "MatMul")


def _profile(core, model, patch: int, batch: int) -> None:
    """Print the per-kernel time shares of one batch, with performance counters on."""
    compiled = core.compile_model(
        model, "CPU", {"PERF_COUNT": True, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": "f32"}
    )
    request = compiled.create_infer_request()
    tiles = np.random.default_rng(0).integers(0, 256, (batch, 1, patch, patch), dtype=np.uint8)
    request.infer({"tiles": tiles})
    request.infer({"tiles": tiles})
    by_kernel: Counter = Counter()
    slow = []
    for layer in request.profiling_info:
        ms = layer.real_time.total_seconds() * 1e3
        by_kernel[(layer.node_type, layer.exec_type)] += ms
        if layer.node_type in MATRIX_LAYERS and "I8" not in layer.exec_type.upper():
            slow.append((ms, layer.node_name, layer.exec_type))
    total = sum(by_kernel.values())
    click.echo(f"layer time of one batch of {batch}: {total:.1f} ms (wall, on this machine now)")
    for (node_type, kernel), ms in by_kernel.most_common(12):
        click.echo(f"  {100 * ms / total:5.1f}%  {node_type:16s} {kernel}")
    click.echo("convolutions and matrix products not in INT8:")
    for ms, name, kernel in slow:
        click.echo(f"  {100 * ms / total:5.1f}%  {name} ({kernel})")


def _run(requests, tiles_n: int, batch: int) -> int:
    """Infer ``tiles_n`` tiles with every request kept busy; returns tiles done."""
    for request in requests:
        request.start_async()
    started, done, index = len(requests) * batch, 0, 0
    while done < tiles_n:
        request = requests[index % len(requests)]
        request.wait()
        done += batch
        if started < tiles_n:
            request.start_async()
            started += batch
        index += 1
    return done


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("onnx_model", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--profile", is_flag=True, help="Print the per-kernel profile of one batch first.")
@click.option("--profile-batch", type=int, default=4, show_default=True)
@click.option(
    "--setting",
    "settings",
    multiple=True,
    help="NAME:HINT:PRECISION:BATCH:REQUESTS, e.g. lat:LATENCY:f32:8:1 (repeatable).",
)
@click.option("--tiles", type=int, default=16, show_default=True, help="Tiles per timed round and setting.")
@click.option("--rounds", type=int, default=3, show_default=True)
def main(
    onnx_model: Path, *, profile: bool, profile_batch: int, settings: tuple[str, ...], tiles: int, rounds: int
) -> None:
    """Profile an ONNX variant with OpenVINO and compare compile settings (see the module docstring)."""
    import openvino as ov

    core = ov.Core()
    model = core.read_model(str(onnx_model))
    patch = model.input("tiles").get_partial_shape()[2].get_length()
    if profile:
        _profile(core, model, patch, profile_batch)
    rng = np.random.default_rng(0)
    runs = {}
    for spec in settings:
        name, hint, precision, batch, n_requests = spec.split(":")
        config = {"PERFORMANCE_HINT": hint, "INFERENCE_PRECISION_HINT": precision}
        compiled = core.compile_model(model, "CPU", config)
        requests = [compiled.create_infer_request() for _ in range(int(n_requests))]
        batch_tiles = rng.integers(0, 256, (int(batch), 1, patch, patch), dtype=np.uint8)
        for request in requests:
            request.set_tensor("tiles", ov.Tensor(batch_tiles))
            request.infer()
        runs[name] = (requests, int(batch))
        click.echo(
            f"{name}: {hint} {precision} batch {batch}, {n_requests} request(s), "
            f"{compiled.get_property('NUM_STREAMS')} stream(s)"
        )
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    wall: dict[str, list[float]] = {name: [] for name in runs}
    for r in range(rounds):
        for name, (requests, batch) in runs.items():
            c, t = time.process_time(), time.perf_counter()
            done = _run(requests, tiles, batch)
            cpu[name].append((time.process_time() - c) * 1e3 / done)
            wall[name].append((time.perf_counter() - t) * 1e3 / done)
        click.echo(
            f"round {r}: load {os.getloadavg()[0]:.1f}; "
            + ", ".join(f"{n} {cpu[n][-1]:.1f} cpu-ms / {wall[n][-1]:.1f} wall-ms per patch" for n in runs)
        )
    for name in runs:
        click.echo(
            f"median {name}: {statistics.median(cpu[name]):.1f} cpu-ms, "
            f"{statistics.median(wall[name]):.1f} wall-ms per patch"
        )


if __name__ == "__main__":
    main()
