"""Backend availability, the automatic choice on simulated machines (flags and libraries faked), creation."""

from __future__ import annotations

import pytest

from microcalc.bundle import Bundle
from microcalc.engine import cuda_memory
from microcalc.engine.backends import availability, registry, selection
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.backends.openvino import OpenVinoBackend
from microcalc.engine.backends.torch import TorchBackend
from microcalc.engine.cpu_info import CpuInfo
from microcalc.errors import InputError, MicrocalcError

AMX = frozenset({"avx512f", "avx512_vnni", "amx_tile", "amx_int8", "amx_bf16"})
OLD = frozenset({"avx2"})


def _machine(monkeypatch, *, flags=AMX, gpus=0, missing=(), ort_gpu=False):
    """Fake this machine: CPU flags, GPU count, which modules are installed."""
    monkeypatch.setattr(selection, "cpu_info", lambda: CpuInfo("fake CPU", flags, 8, 4))
    monkeypatch.setattr(cuda_memory, "device_count", lambda: gpus)
    real = availability.installed
    monkeypatch.setattr(availability, "installed", lambda m: m not in missing and real(m))
    monkeypatch.setattr(availability, "ort_gpu_installed", lambda: ort_gpu)


def _without(bundle: Bundle, precision: str) -> Bundle:
    return Bundle(
        path=bundle.path,
        manifest=bundle.manifest,
        config=bundle.config,
        variants=[v for v in bundle.variants if v.precision != precision],
    )


@pytest.mark.parametrize(
    "flags, missing, drop, expected",
    [
        (AMX, (), None, ("openvino", "int8")),  # AMX CPU with OpenVINO: int8 on OpenVINO
        (OLD, (), None, ("openvino", "fp32")),  # no VNNI/AMX: int8 not worth it
        (AMX, ("openvino",), None, ("onnxruntime", "int8")),  # OpenVINO absent: ONNX Runtime
        (AMX, (), "int8", ("openvino", "fp32")),  # bundle without int8 variant
    ],
)
def test_auto_on_cpu_machines(monkeypatch, tiny_bundle, flags, missing, drop, expected):
    _machine(monkeypatch, flags=flags, missing=missing)
    bundle = Bundle.load(tiny_bundle)
    if drop:
        bundle = _without(bundle, drop)
    choice = selection.resolve(bundle=bundle)
    assert (choice.backend, choice.precision, choice.device) == (*expected, "cpu")
    assert "no GPU" in choice.reason


def test_failed_int8_parity_is_not_chosen(monkeypatch, tiny_bundle):
    import dataclasses

    _machine(monkeypatch)
    bundle = Bundle.load(tiny_bundle)
    bundle.variants = [
        dataclasses.replace(v, parity={"passed": False}) if v.precision == "int8" else v
        for v in bundle.variants
    ]
    assert selection.resolve(bundle=bundle).precision == "fp32"


@pytest.mark.parametrize(
    "gpus, ort_gpu, expected",
    [
        (0, False, ("openvino", "fp32", "cpu")),  # AMX CPU: int8 would be chosen, but it is unchecked
        (1, True, ("onnxruntime", "fp32", "cuda")),  # GPU: fp16 would be chosen, but it is unchecked
    ],
)
def test_unchecked_variants_are_not_chosen(monkeypatch, tiny_bundle, gpus, ort_gpu, expected):
    import dataclasses

    from microcalc.parity import not_checked

    _machine(monkeypatch, gpus=gpus, ort_gpu=ort_gpu, missing=("tensorrt", "tensorrt_rtx"))
    bundle = Bundle.load(tiny_bundle)
    unchecked = not_checked("mc-export --no-parity")
    bundle.variants = [
        dataclasses.replace(v, parity=unchecked) if v.precision != "fp32" else v for v in bundle.variants
    ]
    choice = selection.resolve(bundle=bundle)
    assert (choice.backend, choice.precision, choice.device) == expected
    assert "did not pass parity (not checked (mc-export --no-parity))" in choice.reason


def test_gpu_without_engine_uses_onnxruntime_cuda_fp16(monkeypatch, tiny_bundle):
    _machine(monkeypatch, gpus=1, ort_gpu=True, missing=("tensorrt", "tensorrt_rtx"))
    choice = selection.resolve(bundle=Bundle.load(tiny_bundle))
    assert (choice.backend, choice.precision, choice.device) == ("onnxruntime", "fp16", "cuda")


def test_gpu_without_any_gpu_library_falls_back_to_cpu(monkeypatch, tiny_bundle):
    _machine(monkeypatch, gpus=1, missing=("tensorrt", "tensorrt_rtx"))
    choice = selection.resolve(bundle=Bundle.load(tiny_bundle))
    assert choice.device == "cpu" and "GPU present" in choice.reason


@pytest.mark.parametrize(
    "name, precision, message",
    [
        ("tensorrt", "auto", "no CUDA device"),  # no GPU here
        ("openvino", "auto", "microcalc\\[openvino\\]"),  # library missing (simulated)
        ("nope", "auto", "unknown backend 'nope'"),  # typo
        ("onnxruntime", "fp8", "unknown precision 'fp8'"),  # typo
    ],
)
def test_explicit_choices_that_cannot_run(monkeypatch, tiny_bundle, name, precision, message):
    _machine(monkeypatch, missing=("openvino",))
    with pytest.raises(MicrocalcError, match=message):
        selection.resolve(name, precision, bundle=Bundle.load(tiny_bundle))


def test_missing_variant_lists_what_the_bundle_has(tiny_bundle):
    bundle = _without(Bundle.load(tiny_bundle), "fp16")
    with pytest.raises(InputError, match="no fp16 onnx variant.*it has: fp32"):
        selection.resolve("onnxruntime", "fp16", bundle=bundle)


def test_status_lines(monkeypatch):
    _machine(monkeypatch, missing=("openvino",))
    status = {name: (ok, why) for name, ok, why in registry.backend_status()}
    assert tuple(status) == registry.names() == ("onnxruntime", "openvino", "tensorrt", "torch")
    assert status["openvino"] == (False, 'not installed: pip install "microcalc[openvino]"')
    assert status["tensorrt"][0] is False and status["onnxruntime"] == (True, "CPU")


@pytest.mark.parametrize(
    "name, cls",
    [
        ("onnxruntime", OnnxRuntimeBackend),  # ONNX variant on the CPU provider
        ("openvino", OpenVinoBackend),  # ONNX variant through OpenVINO
        ("torch", TorchBackend),  # the bundle's source checkpoint
    ],
)
def test_create_backend_from_folder(tiny_bundle, name, cls):
    backend = selection.create_backend(name, tiny_bundle, precision="fp32", max_batch=4)
    assert isinstance(backend, cls) and backend.input_shape == (1, 64, 64) and not backend.is_active


def test_torch_refuses_a_changed_checkpoint(tiny_bundle, tmp_path):
    import json
    import shutil

    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    manifest = json.loads((copy / "bundle.json").read_text())
    ckpt = tmp_path / "other.pt"
    ckpt.write_bytes(b"changed")
    manifest["source_checkpoint"]["path"] = str(ckpt)
    (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(MicrocalcError, match="checkpoint changed since the bundle was exported"):
        selection.create_backend("torch", copy, precision="fp32", max_batch=2)
