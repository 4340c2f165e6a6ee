"""OpenVINO backend: the kernels it really runs, overlapping requests, the compiled-model cache."""

from __future__ import annotations

import numpy as np
import pytest

from microcalc.bundle import Bundle
from microcalc.engine.backends.openvino import OpenVinoBackend, inference_precision
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import MicrocalcError


def _backend(bundle, precision, tmp_path, **kw) -> OpenVinoBackend:
    b = Bundle.load(bundle)
    return OpenVinoBackend(
        b.file(b.variant(precision=precision)),
        input_shape=(1, 64, 64),
        precision=precision,
        cache_dir=tmp_path / "ov_cache",
        **kw,
    )


@pytest.mark.parametrize(
    "precision, has_bf16, hint",
    [
        ("fp32", True, "f32"),  # float32 stays float32
        ("fp16", True, "bf16"),  # FP16 request executes as BF16 on AMX/AVX512-BF16 CPUs
        ("fp16", False, "f32"),  # no BF16 units: f32 with the FP16 weights upcast
        ("int8", True, "f32"),  # Q/DQ layers run int8; the rest in f32
    ],
)
def test_inference_precision(precision, has_bf16, hint):
    assert inference_precision(precision, has_bf16=has_bf16) == hint


@pytest.mark.parametrize(
    "precision, flag, kernel",
    [
        ("int8", "amx_int8", "amx_I8"),  # Q/DQ convolutions on AMX int8 tiles
        ("fp16", "amx_bf16", "amx_bf16"),  # the FP16 variant as BF16 on AMX
    ],
)
def test_amx_kernels_run(tiny_bundle, tmp_path, precision, flag, kernel):
    if flag not in cpu_info().flags:
        pytest.skip(f"this CPU has no {flag}")
    with _backend(tiny_bundle, precision, tmp_path, max_batch=2) as backend:
        kernels = backend.kernels()
    assert any(kernel in k for k in kernels), kernels


def test_requests_overlap_and_keep_order(tiny_bundle, tiles, tmp_path):
    """Three batches in flight on two requests: the third waits for the first, results stay in order."""
    with _backend(tiny_bundle, "fp32", tmp_path, max_batch=2, num_requests=2) as backend:
        bufs = [backend.host_buffer(2) for _ in range(3)]
        for i, buf in enumerate(bufs):
            buf[:] = tiles[2 * i : 2 * i + 2]
        pending = [backend.submit(buf, 2) for buf in bufs]
        got = np.concatenate([p.result().p_cluster for p in pending])
        assert all(b.flags.c_contiguous for b in bufs)
    with _backend(tiny_bundle, "fp32", tmp_path, max_batch=6) as backend:
        expected = backend.infer(tiles).p_cluster
    np.testing.assert_allclose(got, expected, atol=1e-6)


def test_compiled_model_is_cached(tiny_bundle, tmp_path):
    with _backend(tiny_bundle, "fp32", tmp_path, max_batch=2):
        pass
    assert any((tmp_path / "ov_cache").iterdir())


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"performance_hint": "FAST"}, "unknown OpenVINO performance hint 'FAST'"),  # typo
        ({"precision": "fp64"}, "unknown precision 'fp64'"),  # not a bundle precision
    ],
)
def test_bad_settings(tiny_bundle, tmp_path, kwargs, message):
    with pytest.raises(MicrocalcError, match=message):
        OpenVinoBackend(tmp_path / "m.onnx", input_shape=(1, 64, 64), max_batch=2, **kwargs)


@pytest.mark.parametrize("n", [1, 5, 6])
def test_throughput_default_splits_a_synchronous_batch_over_its_streams(tiny_bundle, tiles, tmp_path, n):
    """The default THROUGHPUT hint: ``infer`` gives every request a part; the scores and CAMs are those
    of LATENCY running the whole batch as one request, in order (an odd batch, and one tile)."""
    with _backend(tiny_bundle, "fp32", tmp_path, max_batch=6) as backend:
        assert backend.config["PERFORMANCE_HINT"] == "THROUGHPUT"
        assert int(backend.compiled.get_property("NUM_STREAMS")) >= 1
        got = backend.infer(tiles[:n])
    with _backend(
        tiny_bundle, "fp32", tmp_path, max_batch=6, performance_hint="LATENCY", num_requests=1
    ) as one:
        expected = one.infer(tiles[:n])
    assert got.p_cluster.shape == (n,) and got.cam.shape == expected.cam.shape
    np.testing.assert_allclose(got.p_cluster, expected.p_cluster, atol=1e-6)
    np.testing.assert_allclose(got.cam, expected.cam, atol=1e-5)
