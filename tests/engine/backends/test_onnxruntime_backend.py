"""ONNX Runtime backend: buffers, batches in flight, state errors, bad models (parity: test_parity.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from microcalc.bundle import Bundle
from microcalc.engine.backends.base import PendingBatch
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.errors import InputError, MicrocalcError


def _backend(bundle: Path, precision: str, max_batch: int = 4) -> OnnxRuntimeBackend:
    b = Bundle.load(bundle)
    path = b.file(b.variant(precision=precision))
    return OnnxRuntimeBackend(
        path,
        input_shape=(1, b.config.patch_size, b.config.patch_size),
        max_batch=max_batch,
        precision=precision,
    )


def test_partial_batches_and_reused_buffer(tiny_bundle, tiles, reference_scores):
    """A buffer is C-contiguous and reused; a short last batch scores only its first n tiles."""
    with _backend(tiny_bundle, "fp32", max_batch=4) as backend:
        buf = backend.host_buffer(4)
        assert buf.flags.c_contiguous and buf.dtype == np.uint8 and buf.shape == (4, 1, 64, 64)
        scores = []
        for start in range(0, len(tiles), 4):
            n = min(4, len(tiles) - start)
            buf[:n] = tiles[start : start + n]
            pending = backend.submit(buf, n)
            assert isinstance(pending, PendingBatch)
            scores.append(pending.result().p_cluster)
        assert len(backend.infer_ms) == 2
    np.testing.assert_allclose(np.concatenate(scores), reference_scores[0], atol=1e-4)


def test_two_batches_in_flight_keep_order(tiny_bundle, tiles, reference_scores):
    with _backend(tiny_bundle, "fp32", max_batch=3) as backend:
        a, b = backend.host_buffer(3), backend.host_buffer(3)
        a[:] = tiles[:3]
        b[:] = tiles[3:6]
        first, second = backend.submit(a, 3), backend.submit(b, 3)
        got = np.concatenate([first.result().p_cluster, second.result().p_cluster])
    np.testing.assert_allclose(got, reference_scores[0][:6], atol=1e-4)


@pytest.mark.parametrize(
    "call",
    [
        "infer",  # scoring before activate()
        "host_buffer",  # asking for a buffer before activate()
    ],
)
def test_inactive_backend_refuses(tiny_bundle, tiles, call):
    backend = _backend(tiny_bundle, "fp32")
    with pytest.raises(MicrocalcError, match="not active"):
        backend.infer(tiles[:2]) if call == "infer" else backend.host_buffer(2)


def test_double_activate_and_deactivate(tiny_bundle):
    backend = _backend(tiny_bundle, "fp32")
    backend.activate()
    with pytest.raises(MicrocalcError, match="already active"):
        backend.activate()
    backend.deactivate()
    backend.deactivate()  # a second deactivate is a no-op
    assert not backend.is_active


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((2, 1, 32, 32), np.uint8), "batch must be uint8"),  # wrong tile size
        (np.zeros((2, 1, 64, 64), np.float32), "batch must be uint8"),  # wrong dtype
        (np.zeros((2, 1, 64, 128), np.uint8)[..., ::2], "C-contiguous"),  # strided view
    ],
)
def test_bad_batches_are_refused(tiny_bundle, bad, message):
    with _backend(tiny_bundle, "fp32") as backend, pytest.raises(ValueError, match=message):
        backend.infer(bad)


def test_missing_or_foreign_model(tmp_path):
    with pytest.raises(InputError, match="no such ONNX model"):
        OnnxRuntimeBackend(tmp_path / "absent.onnx", input_shape=(1, 64, 64), max_batch=2).activate()
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot load"):
        OnnxRuntimeBackend(junk, input_shape=(1, 64, 64), max_batch=2).activate()


def test_wrong_patch_size_is_refused(tiny_bundle):
    b = Bundle.load(tiny_bundle)
    backend = OnnxRuntimeBackend(b.file(b.variant(precision="fp32")), input_shape=(1, 128, 128), max_batch=2)
    with pytest.raises(InputError, match="expected \\[N, 1, 128, 128\\]"):
        backend.activate()


def test_gpu_provider_without_gpu_build_names_the_extra(tiny_bundle):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime-gpu is installed here")
    b = Bundle.load(tiny_bundle)
    backend = OnnxRuntimeBackend(
        b.file(b.variant(precision="fp32")), input_shape=(1, 64, 64), max_batch=2, provider="cuda"
    )
    with pytest.raises(MicrocalcError, match=r"microcalc\[cuda\]"):
        backend.activate()


def _fake_gpu_session(onnxruntime, *, loads: list[str]):
    """An InferenceSession that reports ``loads`` as its providers and runs IO-bound batches on the CPU,
    reading the bound input from the fake device memory (host memory) it was given."""
    import ctypes

    real = onnxruntime.InferenceSession

    class Session(real):
        def __init__(self, path, sess_options=None, providers=None):
            super().__init__(path, sess_options=sess_options, providers=["CPUExecutionProvider"])
            self.asked = providers

        def get_providers(self):
            return list(loads)

        def io_binding(self):
            session = self

            class Binding:
                def bind_input(self, *, name, device_type, device_id, element_type, shape, buffer_ptr):
                    size = int(np.prod(shape))
                    raw = (ctypes.c_uint8 * size).from_address(int(buffer_ptr))
                    self.feed = {name: np.ctypeslib.as_array(raw).reshape(shape).copy()}
                    self.device = (device_type, device_id)

                def bind_output(self, name, device_type, device_id):
                    assert (device_type, device_id) == self.device

                def copy_outputs_to_cpu(self):
                    return self.outputs

            binding = Binding()
            session.last_binding = binding
            return binding

        def run_with_iobinding(self, binding):
            binding.outputs = self.run(["p_cluster", "cam"], binding.feed)

    return Session


def test_cuda_session_that_fell_back_to_cpu_is_refused(tiny_bundle, fake_cuda, monkeypatch):
    """onnxruntime-gpu without its CUDA libraries runs on the CPU, saying so only in a warning."""
    import onnxruntime

    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(
        onnxruntime, "InferenceSession", _fake_gpu_session(onnxruntime, loads=["CPUExecutionProvider"])
    )
    b = Bundle.load(tiny_bundle)
    backend = OnnxRuntimeBackend(
        b.file(b.variant(precision="fp32")),
        input_shape=(1, 64, 64),
        max_batch=2,
        provider="cuda",
        device_id=1,
    )
    with pytest.raises(
        MicrocalcError, match="could not load CUDAExecutionProvider and would run on CPUExecutionProvider"
    ) as info:
        backend.activate()
    assert "\n" not in str(info.value) and not backend.is_active


def test_cuda_batches_report_the_three_stages_from_the_worker_thread(
    tiny_bundle, tiles, reference_scores, fake_cuda, monkeypatch
):
    """Pinned buffers, the device set in onnxruntime's worker thread, and h2d/compute/d2h in the timings."""
    import onnxruntime

    from microcalc.engine.backends.base import STAGES

    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"]
    )
    monkeypatch.setattr(
        onnxruntime,
        "InferenceSession",
        _fake_gpu_session(onnxruntime, loads=["CUDAExecutionProvider", "CPUExecutionProvider"]),
    )
    b = Bundle.load(tiny_bundle)
    with OnnxRuntimeBackend(
        b.file(b.variant(precision="fp32")),
        input_shape=(1, 64, 64),
        max_batch=4,
        provider="cuda",
        device_id=1,
    ) as backend:
        assert backend.session.asked[0] == ("CUDAExecutionProvider", {"device_id": 1})
        buf = backend.host_buffer(4)
        assert buf.ctypes.data in fake_cuda.memory  # page-locked (cudaMallocHost)
        buf[:] = tiles[:4]
        result = backend.submit(buf, 4).result()
    np.testing.assert_allclose(result.p_cluster, reference_scores[0][:4], atol=1e-4)
    assert set(result.timings_ms) == set(STAGES)
    assert ("mc-ort_0", 1) in fake_cuda.set_device_calls
    assert not fake_cuda.memory  # pinned and device buffers freed
