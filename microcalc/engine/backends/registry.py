"""Backends by name, what can run on this machine, and the automatic choice of backend and precision.

``resolve`` picks the fastest combination that can run here and says why:

* GPU present: the bundle's TensorRT engine if its library is installed and the engine is valid
  for this GPU (see :mod:`~microcalc.engine.backends.engine_check`), else ONNX Runtime on CUDA
  (onnxruntime-gpu); precision ``auto`` is fp16 where the bundle has it.
* CPU only: OpenVINO if installed, else ONNX Runtime; precision ``auto`` is int8 where the
  bundle has an int8 variant (``mc-export`` writes one only when it passed parity) and the CPU
  has VNNI or AMX, else fp32.

Nothing here imports a backend library; availability is read from installed module specs.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.bundle import Bundle, rebuild_hint
from microcalc.engine import cuda_memory
from microcalc.engine.backends.base import PRECISIONS, Backend, check_precision
from microcalc.engine.backends.engine_check import check_engine
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.backends.openvino import OpenVinoBackend
from microcalc.engine.backends.tensorrt import LIBRARIES, TensorRTBackend
from microcalc.engine.backends.torch import TorchBackend
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import MicrocalcError

BACKENDS: dict[str, type[Backend]] = {"onnxruntime": OnnxRuntimeBackend, "openvino": OpenVinoBackend,
                                      "tensorrt": TensorRTBackend, "torch": TorchBackend}
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` chose: backend name, bundle precision, device, and the reason in words."""

    backend: str
    precision: str
    device: str
    reason: str


def installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def ort_gpu_installed() -> bool:
    """onnxruntime-gpu ships the CUDA provider library next to the package."""
    spec = importlib.util.find_spec("onnxruntime") if installed("onnxruntime") else None
    if spec is None or not spec.submodule_search_locations:
        return False
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    return any(capi.glob("libonnxruntime_providers_cuda*")) or any(capi.glob("onnxruntime_providers_cuda*"))


def backend_status() -> list[tuple[str, bool, str]]:
    """``(name, available, reason)`` for every backend on this machine, e.g. ``("tensorrt", False, "no CUDA device")``."""
    gpus = cuda_memory.device_count()
    trt_libs = [lib for lib in LIBRARIES if installed(lib)]
    status = [("onnxruntime", installed("onnxruntime"),
               ("CPU" + (" and CUDA" if gpus and ort_gpu_installed() else "")) if installed("onnxruntime")
               else 'not installed: pip install onnxruntime')]
    status.append(("openvino", True, "CPU") if installed("openvino") else
                  ("openvino", False, 'not installed: pip install "microcalc[openvino]"'))
    if not trt_libs:
        status.append(("tensorrt", False, 'not installed: pip install "microcalc[rtx]" or "microcalc[tensorrt]"'))
    elif not installed("cuda.bindings"):
        status.append(("tensorrt", False, 'cuda-python not installed: pip install "microcalc[rtx]"'))
    elif not gpus:
        status.append(("tensorrt", False, "no CUDA device"))
    else:
        status.append(("tensorrt", True, f"{', '.join(trt_libs)} on {gpus} GPU(s)"))
    status.append(("torch", True, "reference (slow)") if installed("torch") else
                  ("torch", False, 'not installed: pip install "microcalc[train]"'))
    return status


def available_backends() -> list[tuple[str, bool, str]]:
    """The name docs/design.md gives :func:`backend_status`."""
    return backend_status()


def _has(bundle: Bundle, precision: str, fmt: str = "onnx") -> bool:
    return any(v.precision == precision and v.format == fmt for v in bundle.variants)


def _int8_passed(bundle: Bundle) -> bool:
    """An int8 ONNX variant whose recorded parity did not fail (mc-export writes only passing ones)."""
    return any(v.precision == "int8" and v.format == "onnx" and v.parity.get("passed", True) is not False
               for v in bundle.variants)


def _engine_ok(bundle: Bundle, precision: str) -> tuple[bool, str]:
    """Whether the bundle's engine of ``precision`` can run here (library, version, GPU, ONNX)."""
    engines = [v for v in bundle.variants if v.format == "tensorrt" and v.precision == precision]
    if not engines:
        return False, f"no {precision} TensorRT engine in the bundle"
    variant = engines[0]
    library = variant.library or "tensorrt_rtx"
    if not installed(library):
        return False, f"{library} not installed"
    try:
        backend = _tensorrt(bundle, variant, max_batch=1)
        check_engine(backend.sidecar, engine=backend.engine_path, library=library,
                     version=importlib.import_module(library).__version__,
                     capability=cuda_memory.compute_capability(0), onnx_sha256=backend.onnx_sha256,
                     max_batch=1, rebuild=backend.rebuild)
    except MicrocalcError as exc:
        return False, str(exc)
    return True, f"{variant.name} engine is valid for this GPU"


def resolve(name: str = "auto", precision: str = "auto", *, bundle: Bundle) -> Resolution:
    """Choose backend, precision and device for ``bundle`` on this machine (see module docstring).

    Raises:
        MicrocalcError: an explicit backend or precision cannot run here (the message says why).
    """
    if name != "auto" and name not in BACKENDS:
        raise MicrocalcError(f"unknown backend {name!r}; expected auto or one of {', '.join(BACKENDS)}")
    if precision != "auto":
        check_precision(precision)
        if not _has(bundle, precision):
            bundle.variant(precision=precision)  # raises InputError listing what the bundle has
    status = {n: (ok, why) for n, ok, why in backend_status()}
    if name != "auto" and not status[name][0]:
        raise MicrocalcError(f"backend {name} cannot run here: {status[name][1]}")
    gpu = cuda_memory.device_count() > 0
    if gpu and name in ("auto", "tensorrt"):
        for p in ([precision] if precision != "auto" else ["fp16", "fp32"]):
            ok, why = _engine_ok(bundle, p) if status["tensorrt"][0] else (False, status["tensorrt"][1])
            if ok:
                return Resolution("tensorrt", p, "cuda", why)
        if name == "tensorrt":
            raise MicrocalcError(f"backend tensorrt cannot run this bundle: {why}")
    if gpu and name in ("auto", "onnxruntime") and ort_gpu_installed():
        p = precision if precision != "auto" else ("fp16" if _has(bundle, "fp16") else "fp32")
        return Resolution("onnxruntime", p, "cuda", f"GPU present, onnxruntime-gpu runs the {p} ONNX model")
    chosen = name if name != "auto" else ("openvino" if status["openvino"][0] else "onnxruntime")
    info = cpu_info()
    if precision != "auto":
        p, why = precision, f"{precision} as asked"
    elif chosen == "torch":
        p, why = "fp32", "the torch reference runs fp32"
    elif _int8_passed(bundle) and info.fast_int8:
        p, why = "int8", "the bundle's int8 variant passed parity and this CPU has VNNI/AMX"
    else:
        p = "fp32"
        why = "no int8 variant that passed parity" if not _int8_passed(bundle) else "this CPU lacks VNNI/AMX for int8"
    device = "cuda" if chosen == "torch" and gpu else "cpu"
    lead = "no GPU" if not gpu else "GPU present but no GPU backend fits"
    if name == "auto":
        lead += ", openvino installed" if chosen == "openvino" else ", openvino not installed"
    return Resolution(chosen, p, device, f"{lead}; {p}: {why}")


def resolve_auto(bundle: Bundle, precision: str = "auto") -> Resolution:
    """The name docs/design.md gives ``resolve("auto", precision, bundle=bundle)``."""
    return resolve("auto", precision, bundle=bundle)


def _load(bundle: Bundle | str | Path) -> Bundle:
    return bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)


def _tensorrt(bundle: Bundle, variant: Any, *, max_batch: int, **options: Any) -> TensorRTBackend:
    patch = bundle.config.patch_size
    onnx = [v for v in bundle.variants if v.format == "onnx" and v.precision == variant.precision]
    return TensorRTBackend(bundle.file(variant), sidecar=bundle.sidecar(variant),
                           onnx_sha256=onnx[0].sha256 if onnx else variant.onnx_sha256,
                           rebuild=rebuild_hint(bundle.manifest, bundle.path) + f" --{variant.precision} --trt",
                           input_shape=(1, patch, patch), max_batch=max_batch, **options)


def create_backend(name: str, bundle: Bundle | str | Path, *, precision: str = "fp32", max_batch: int,
                   device: str = "auto", **options: Any) -> Backend:
    """An (inactive) backend running ``bundle``'s ``precision`` variant.

    Args:
        name: ``onnxruntime``, ``openvino``, ``tensorrt`` or ``torch`` (``auto``: see :func:`resolve`).
        bundle: a loaded :class:`~microcalc.bundle.Bundle` or its folder.
        precision: ``fp32``, ``fp16``, ``int8`` or ``auto``.
        max_batch: the largest batch that will be submitted.
        device: ``cpu``, ``cuda`` or ``auto`` (onnxruntime and torch; the others have one device).
        options: passed to the backend class (e.g. ``num_requests`` for openvino).
    """
    bundle = _load(bundle)
    if device not in DEVICES:
        raise MicrocalcError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if name == "auto" or precision == "auto":
        choice = resolve(name, precision, bundle=bundle)
        name, precision = choice.backend, choice.precision
        device = choice.device if device == "auto" else device
    if name not in BACKENDS:
        raise MicrocalcError(f"unknown backend {name!r}; expected auto or one of {', '.join(BACKENDS)}")
    if precision not in PRECISIONS and name != "torch":  # torch runs the checkpoint, in its own precisions
        check_precision(precision)
    patch = bundle.config.patch_size
    shape = (1, patch, patch)
    if name == "tensorrt":
        return _tensorrt(bundle, bundle.variant(precision=precision, fmt="tensorrt"), max_batch=max_batch, **options)
    if name == "torch":
        return TorchBackend(bundle.source_checkpoint(), input_shape=shape, max_batch=max_batch,
                            device="cuda" if device == "cuda" else "cpu", precision=precision, **options)
    path = bundle.file(bundle.variant(precision=precision))
    if name == "openvino":
        return OpenVinoBackend(path, input_shape=shape, max_batch=max_batch, precision=precision, **options)
    provider = options.pop("provider", "cuda" if device == "cuda" else "cpu")
    return OnnxRuntimeBackend(path, input_shape=shape, max_batch=max_batch, precision=precision,
                              provider=provider, **options)
