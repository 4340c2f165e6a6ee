"""The torch backend's CUDA path (slots, padding, per-size CUDA graphs, stage times) on the CPU.

:class:`CpuStandIn` has the methods of :class:`~microcalc.engine.backends.torch_cuda.TorchCuda`
with CPU tensors: events count the order they were recorded in, and a "graph" re-runs the
captured function into the outputs it returned at capture, reading whatever its static input
holds at replay, as a CUDA graph does. The network is a known predictor (a 1x1 convolution by
1/255), so expected scores are exact. The real CUDA run is tests marked ``gpu``.
"""

from __future__ import annotations

import contextlib
import itertools
import logging

import numpy as np
import pytest

from microcalc.engine.backends.base import STAGES
from microcalc.engine.backends.torch import TorchBackend
from microcalc.engine.backends.torch_cuda import CudaRunner, padded_batch
from microcalc.errors import MicrocalcError

torch = pytest.importorskip("torch")

P = 8
_order = itertools.count()


class Event:
    def __init__(self) -> None:
        self.at: int | None = None

    def record(self, stream) -> None:
        self.at = next(_order)

    def synchronize(self) -> None:
        assert self.at is not None, "waited on an event never recorded"

    def elapsed_time(self, end: Event) -> float:
        return float(end.at - self.at)


class Graph:
    def __init__(self, fn, outputs) -> None:
        self.fn, self.outputs, self.replays = fn, outputs, 0

    def replay(self) -> None:
        self.replays += 1
        for static, new in zip(self.outputs, self.fn()):
            static.copy_(new)


class CpuStandIn:
    def __init__(self, *, capture_error: str | None = None) -> None:
        self.torch, self.device, self.capture_error, self.strict = (
            torch,
            torch.device("cpu"),
            capture_error,
            False,
        )
        self.graphs: list[Graph] = []

    def stream(self):
        return object()

    def event(self) -> Event:
        return Event()

    def on(self, stream):
        return contextlib.nullcontext()

    def pinned(self, shape, dtype):
        return torch.empty(shape, dtype=dtype)

    def capture(self, fn, stream):
        if self.capture_error:
            raise RuntimeError(self.capture_error)
        graph = Graph(fn, fn())
        self.graphs.append(graph)
        return graph, graph.outputs

    def synchronize(self) -> None:
        pass

    def strict_fp32(self) -> None:
        self.strict = True


class Known(torch.nn.Module):
    """p = mean(tile) / 255 and cam = 2x2 average pool of tile / 255, through a 1x1 convolution."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, 1, bias=False)
        torch.nn.init.constant_(self.conv.weight, 1 / 255)

    def forward(self, tiles):
        y = self.conv(tiles.float())
        return y.float().mean(dim=(1, 2, 3)), torch.nn.functional.avg_pool2d(y, 2)[:, 0].float()


def expected(tiles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = tiles.astype(np.float64) / 255
    return x.mean(axis=(1, 2, 3)), x[:, 0].reshape(len(x), P // 2, 2, P // 2, 2).mean(axis=(2, 4))


def _tiles(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, P, P), dtype=np.uint8)


def _runner(api=None, **options) -> CudaRunner:
    return CudaRunner(
        api or CpuStandIn(), Known().eval(), input_shape=(1, P, P), max_batch=8, device_type="cpu", **options
    )


@pytest.mark.parametrize(
    "n, max_batch, size",
    [
        (1, 64, 1),  # batch 1 is its own graph, not padded to 64
        (3, 8, 4),  # a partial batch pads to the next power of two
        (8, 8, 8),  # full
        (33, 48, 48),  # never above max_batch
    ],
)
def test_padded_batch(n, max_batch, size):
    assert padded_batch(n, max_batch) == size


def test_padded_batch_refuses_out_of_range():
    with pytest.raises(ValueError, match=r"n must lie in \[1, 8\], got 9"):
        padded_batch(9, 8)


def test_batches_in_flight_padded_into_one_graph_per_size():
    api = CpuStandIn()
    runner = _runner(api, slots=2)
    sizes = [8, 3, 8, 5, 1, 3]
    batches = [_tiles(n, seed=i) for i, n in enumerate(sizes)]
    buffers = [runner.host_buffer(8) for _ in range(2)]
    results, pending = [], []
    for i, tiles in enumerate(batches):  # pinned buffers alternate, two batches in flight
        if len(pending) == 2:
            results.append(pending.pop(0).result())  # frees the buffer refilled next
        buf = buffers[i % 2]
        buf[: len(tiles)] = tiles
        pending.append(runner.submit(buf, len(tiles)))
    results += [p.result() for p in pending]
    for tiles, result in zip(batches, results):
        p, cam = expected(tiles)
        np.testing.assert_allclose(result.p_cluster, p, rtol=1e-5)
        np.testing.assert_allclose(result.cam, cam, rtol=1e-5)
        assert result.p_cluster.dtype == np.float32 and list(result.timings_ms) == list(STAGES)
    for slot in runner._slots:  # each slot's graphs are keyed by the size their static input has
        assert all(graph[1][0].shape[0] == size for size, graph in slot.graphs.items())
    assert sorted({size for slot in runner._slots for size in slot.graphs}) == [1, 4, 8]
    assert sum(g.replays for g in api.graphs) == len(sizes)  # every batch ran from a graph
    assert api.strict  # fp32 turned TF32 off
    runner.close()


def test_padding_rows_are_zero_tiles_and_stage_times_follow_the_marks():
    runner = _runner(slots=2)
    runner.submit(np.full((8, 1, P, P), 200, np.uint8), 8).result()  # leaves 200s in the device input
    result = runner.submit(_tiles(3, seed=5), 3).result()  # ordinary memory: staged, padded to 4
    slot = runner._slots[1]
    assert torch.count_nonzero(slot.input[3:4]) == 0
    assert result.timings_ms == {"h2d": 1.0, "compute": 1.0, "d2h": 1.0}  # one mark after each stage
    np.testing.assert_allclose(result.p_cluster, expected(_tiles(3, seed=5))[0], rtol=1e-5)


def test_failed_capture_runs_eagerly(caplog):
    with caplog.at_level(logging.WARNING):
        runner = _runner(
            CpuStandIn(capture_error="operation not permitted when stream is capturing"), slots=2
        )
        for n in (8, 8, 2):
            tiles = _tiles(n, seed=n)
            np.testing.assert_allclose(
                runner.submit(tiles, n).result().p_cluster, expected(tiles)[0], rtol=1e-5
            )
    assert sorted(runner.graph_failures) == [2, 8]
    assert "eager instead (operation not permitted" in caplog.text


def test_without_graphs_batches_are_not_padded():
    api = CpuStandIn()
    runner = _runner(api, slots=2, cuda_graph=False)
    tiles = _tiles(3, seed=9)
    np.testing.assert_allclose(runner.submit(tiles, 3).result().p_cluster, expected(tiles)[0], rtol=1e-5)
    assert api.graphs == []


def test_bf16_autocast_stays_close_and_returns_float32():
    tiles = _tiles(4, seed=11)
    result = _runner(precision="bf16", slots=2).submit(tiles, 4).result()
    assert result.p_cluster.dtype == np.float32 and result.cam.dtype == np.float32
    np.testing.assert_allclose(result.p_cluster, expected(tiles)[0], rtol=1e-2)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"device": "cpu", "precision": "bf16"}, "runs fp32 on cpu, not bf16"),  # autocast only on CUDA
        ({"device": "cuda", "precision": "int8"}, "runs fp32, fp16, bf16 on cuda"),  # no int8 in torch
        ({"device": "tpu"}, "unknown torch device 'tpu'"),
        ({"device": "cuda:x"}, "unknown torch device 'cuda:x'"),
    ],
)
def test_torch_backend_settings(tmp_path, kwargs, message):
    with pytest.raises(MicrocalcError, match=message):
        TorchBackend(tmp_path / "c.pt", input_shape=(1, P, P), max_batch=2, **kwargs)


def test_cuda_without_a_cuda_torch_is_one_line(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("torch sees a CUDA device here")
    backend = TorchBackend(
        tmp_path / "c.pt", input_shape=(1, P, P), max_batch=2, device="cuda:0", precision="fp16"
    )
    with pytest.raises(MicrocalcError, match=r"asked for cuda:0, but torch sees 0 CUDA device\(s\)"):
        backend.activate()
