"""The TensorRT backend's CUDA plumbing on a fake CUDA runtime and a fake engine (no GPU needed).

What a first run on a GPU would otherwise find: stage times under the report's keys, device set
in every calling thread, one CUDA graph per batch size with a fallback when capture fails, and
the engine's tensors, dtypes and address bindings checked.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from microcalc.engine import cuda_memory
from microcalc.engine.backends.base import STAGES
from microcalc.engine.backends.tensorrt import TensorRTBackend
from microcalc.errors import MicrocalcError, StaleArtifactError
from tests.engine.backends.cuda_fakes import FakeRuntime, engine_bytes, expected_scores

PATCH = 8
SIDECAR = {
    "library": "tensorrt_rtx",
    "version": "1.7.1.116",
    "compute_capabilities": ["8.9"],
    "profile": {"input": "tiles", "min": [1, 1, PATCH, PATCH], "max": [4, 1, PATCH, PATCH]},
    "onnx_sha256": "abc",
}


@pytest.fixture()
def rt(fake_cuda) -> FakeRuntime:
    return fake_cuda


def _backend(tmp_path, *, engine_batch: int = 4, max_batch: int = 4, **options) -> TensorRTBackend:
    faults = {
        k: options.pop(k) for k in ("capture_fails", "refuse_address", "names", "input_dtype") if k in options
    }
    path = tmp_path / "model.fp16.engine"
    path.write_bytes(engine_bytes(patch=PATCH, max_batch=engine_batch, **faults))
    return TensorRTBackend(
        path,
        sidecar=SIDECAR,
        onnx_sha256="abc",
        rebuild="rebuild it with: mc-export X",
        input_shape=(1, PATCH, PATCH),
        max_batch=max_batch,
        device_id=1,
        **options,
    )


def _tiles(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, PATCH, PATCH), dtype=np.uint8)


def test_batches_in_pinned_and_ordinary_memory_score_right_with_stage_times(rt, tmp_path):
    with _backend(tmp_path) as backend:
        pinned = backend.host_buffer(4)
        pinned[:] = _tiles(4, seed=1)
        ordinary = _tiles(3, seed=2)  # not from host_buffer: goes through staging
        first, second = backend.submit(pinned, 4), backend.submit(ordinary, 3)  # two slots in flight
        for pending, tiles in ((first, pinned), (second, ordinary)):
            result = pending.result()
            p, cam = expected_scores(tiles)
            np.testing.assert_allclose(result.p_cluster, p, rtol=1e-6)
            np.testing.assert_allclose(result.cam, cam, rtol=1e-6)
            assert result.timings_ms == {stage: 0.25 for stage in STAGES}
    assert not rt.memory and not rt.owner  # deactivate freed every buffer, stream and event


def test_submitting_from_another_thread_sets_the_device_there(rt, tmp_path):
    """Device 1 is current only where cudaSetDevice ran: the fake refuses streams of another device."""
    got = {}
    with _backend(tmp_path) as backend:
        tiles = _tiles(2, seed=3)

        def worker():
            got["p"] = backend.submit(tiles, 2).result().p_cluster

        thread = threading.Thread(target=worker, name="mc-scan-infer")
        thread.start()
        thread.join()
    np.testing.assert_allclose(got["p"], expected_scores(tiles)[0], rtol=1e-6)
    assert ("mc-scan-infer", 1) in rt.set_device_calls


def test_cuda_graph_per_batch_size_never_replays_another_shape(rt, tmp_path):
    sizes = [4, 2, 4, 3, 2, 4, 3]
    with _backend(tmp_path, cuda_graph=True) as backend:
        for i, n in enumerate(sizes):
            tiles = _tiles(n, seed=10 + i)
            np.testing.assert_allclose(
                backend.submit(tiles, n).result().p_cluster, expected_scores(tiles)[0], rtol=1e-6
            )
        graphs = [(n, g) for slot in backend._slots for n, g in slot.graphs.items()]
        assert backend.graph_failures == {}
        assert sorted({n for n, _ in graphs}) == [2, 3, 4] and all(g is not None for _, g in graphs)
        for slot in backend._slots:  # each graph's context only ever took its own batch size
            assert all(g.context.shape[0] == n for n, g in slot.graphs.items())


def test_failed_capture_falls_back_to_enqueue(rt, tmp_path, caplog):
    with caplog.at_level(logging.WARNING), _backend(tmp_path, cuda_graph=True, capture_fails=True) as backend:
        for i, n in enumerate([4, 4, 2]):
            tiles = _tiles(n, seed=20 + i)
            np.testing.assert_allclose(
                backend.submit(tiles, n).result().p_cluster, expected_scores(tiles)[0], rtol=1e-6
            )
        assert sorted(backend.graph_failures) == [2, 4]
        assert "execute_async_v3 failed during capture" in backend.graph_failures[4]
        assert not rt.capturing  # the stream left capture mode
    assert "plain enqueue instead" in caplog.text


@pytest.mark.parametrize(
    "fault, error, message",
    [
        (
            {"names": ["input", "p_cluster", "cam"]},
            StaleArtifactError,
            "engine tensors are input, p_cluster, cam",
        ),
        ({"input_dtype": "FLOAT"}, StaleArtifactError, "tensor 'tiles' is TensorIOMode.INPUT DataType.FLOAT"),
        (
            {"engine_batch": 2},
            StaleArtifactError,
            "profile takes batches up to 2, asked for 4",
        ),  # sidecar said 4
        ({"refuse_address": "cam"}, MicrocalcError, "refused the device address of tensor 'cam'"),
    ],
)
def test_engine_io_is_checked(rt, tmp_path, fault, error, message):
    backend = _backend(tmp_path, **fault)
    with pytest.raises(error, match=message) as info:
        backend.activate()
    assert "\n" not in str(info.value) and not backend.is_active
    assert not rt.memory  # a failed activation frees what it had allocated


def test_device_buffers_refuse_unresolved_shapes(rt):
    with pytest.raises(ValueError, match=r"concrete and positive, got \[-1, 4, 4\]"):
        cuda_memory.HostDeviceMem((-1, 4, 4), np.float32)
