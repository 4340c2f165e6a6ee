"""TensorRT backend without a GPU: sidecar checks, clear errors; the GPU tests skip with a reason."""

from __future__ import annotations

import pytest

from microcalc.engine import cuda_memory
from microcalc.engine.backends.engine_check import capability_supported, check_engine, normalise_capability
from microcalc.engine.backends.tensorrt import TensorRTBackend
from microcalc.errors import MicrocalcError, StaleArtifactError

GOOD = {
    "library": "tensorrt_rtx",
    "version": "1.7.1.116",
    "precision": "fp16",
    "compute_capabilities": ["8.0", "8.6", "8.9", "12.0+"],
    "profile": {"input": "tiles", "min": [1, 1, 64, 64], "opt": [8, 1, 64, 64], "max": [16, 1, 64, 64]},
    "onnx_file": "model.fp16.onnx",
    "onnx_sha256": "abc",
}
HERE = {
    "library": "tensorrt_rtx",
    "version": "1.7.1.116",
    "capability": "8.9",
    "onnx_sha256": "abc",
    "max_batch": 8,
}


@pytest.mark.parametrize(
    "text, expected",
    [
        ("SM89", "8.9"),  # TensorRT-RTX ComputeCapability enum name
        ("sm_120", "12.0"),  # nvcc spelling
        ("9.0", "9.0"),  # already normal
        ("12.0+", "12.0+"),  # "and newer"
    ],
)
def test_normalise_capability(text, expected):
    assert normalise_capability(text) == expected


@pytest.mark.parametrize(
    "gpu, built_for, ok",
    [
        ("8.9", ["8.0", "8.9"], True),  # listed exactly
        ("12.1", ["12.0+"], True),  # covered by "and newer"
        ("9.0", ["8.0", "12.0+"], False),  # an H100 is not in TensorRT-RTX's default list
        ("8.6", ["SM86"], True),  # enum spelling in the sidecar
    ],
)
def test_capability_supported(gpu, built_for, ok):
    assert capability_supported(gpu, built_for) is ok


@pytest.mark.parametrize(
    "change, here, message",
    [
        ({"library": "tensorrt"}, {}, "built with tensorrt, but tensorrt_rtx"),  # other library
        ({"version": "1.6.0"}, {}, "built with tensorrt_rtx 1.6.0, this is"),  # other version
        (
            {},
            {"capability": "7.5"},
            "compute capability 8.0, 8.6, 8.9, 12.0\\+, this GPU is 7.5",
        ),  # other GPU
        ({"onnx_sha256": "old"}, {}, "another ONNX model"),  # stale engine
        ({}, {"max_batch": 32}, "batches up to 16, asked for 32"),  # profile too small
    ],
)
def test_stale_engines_are_refused_with_a_rebuild_hint(tmp_path, change, here, message):
    args = {**HERE, **here}
    with pytest.raises(StaleArtifactError, match=message) as info:
        check_engine(
            {**GOOD, **change}, engine=tmp_path / "m.engine", rebuild="rebuild it with: mc-export X", **args
        )
    assert str(info.value).endswith("rebuild it with: mc-export X") and "\n" not in str(info.value)


@pytest.mark.parametrize(
    "here",
    [
        {},  # the GPU and library the engine was built for
        {"capability": "12.1"},  # a newer GPU, covered by "12.0+"
        {"max_batch": 16},  # exactly the profile's largest batch
        {"onnx_sha256": None},  # no ONNX model of that precision to compare with
    ],
)
def test_matching_engine_passes(tmp_path, here):
    """A matching engine is accepted (check_engine returns None instead of raising), and the same call
    with only the library version changed is refused, so the acceptance is not vacuous."""
    args = {**HERE, **here}
    assert check_engine(GOOD, engine=tmp_path / "m.engine", rebuild="r", **args) is None
    with pytest.raises(StaleArtifactError, match="exact version"):
        check_engine(GOOD, engine=tmp_path / "m.engine", rebuild="r", **{**args, "version": "1.7.0"})


def test_no_gpu_is_a_one_line_error(tmp_path):
    if cuda_memory.device_count():
        pytest.skip("a CUDA device is present")
    backend = TensorRTBackend(
        tmp_path / "m.engine",
        sidecar=GOOD,
        onnx_sha256="abc",
        rebuild="r",
        input_shape=(1, 64, 64),
        max_batch=4,
    )
    with pytest.raises(MicrocalcError, match="no CUDA device 0 is available"):
        backend.activate()
    assert not backend.is_active


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_streams": 1}, "at least 2"),  # one stream could not overlap copies
        ({"sidecar": {"library": "trt9"}}, "unknown TensorRT library"),  # sidecar from elsewhere
    ],
)
def test_bad_settings(tmp_path, kwargs, message):
    args = {
        "sidecar": GOOD,
        "onnx_sha256": "abc",
        "rebuild": "r",
        "input_shape": (1, 64, 64),
        "max_batch": 4,
        **kwargs,
    }
    with pytest.raises((ValueError, MicrocalcError), match=message):
        TensorRTBackend(tmp_path / "m.engine", **args)


@pytest.mark.gpu
@pytest.mark.skipif(cuda_memory.device_count() == 0, reason="needs an NVIDIA GPU with a CUDA driver")
def test_pinned_buffers_round_trip():
    """Pinned host memory reaches the device and comes back unchanged through two streams."""
    import numpy as np

    stream = cuda_memory.Stream()
    mem = cuda_memory.HostDeviceMem((4, 1, 8, 8), np.uint8)
    mem.host[:] = np.arange(256, dtype=np.uint8).reshape(4, 1, 8, 8)
    expected = mem.host.copy()

    def timed(copy) -> dict[str, float]:
        stream.record("start")
        copy(stream)
        for mark in ("h2d", "compute", "d2h"):
            stream.record(mark)
        return stream.stage_times()  # waits for the copy

    assert set(timed(mem.to_device)) == {"h2d", "compute", "d2h"}
    mem.host[:] = 0  # only once the upload has finished
    assert min(timed(mem.to_host).values()) >= 0
    np.testing.assert_array_equal(mem.host, expected)
    mem.free()
    stream.free()
