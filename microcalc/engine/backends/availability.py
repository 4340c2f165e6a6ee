"""Which backends can run on this machine, and why not, without importing any backend library.

Availability is read from installed module specs (``importlib.util.find_spec``) and the CUDA
device count, so listing backends on a scanning workstation never loads TensorRT, OpenVINO or
torch. Each backend registers its probe below as its ``status``
(:class:`~microcalc.engine.backends.registry.BackendSpec`);
:func:`~microcalc.engine.backends.registry.backend_status` lists them all,
:mod:`~microcalc.engine.backends.selection` decides with them and ``mc-bench`` prints them.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from microcalc.engine import cuda_memory


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


def onnxruntime_status() -> tuple[bool, str]:
    """ONNX Runtime: a core dependency; CUDA too where onnxruntime-gpu and a GPU are present."""
    if not installed("onnxruntime"):
        return False, "not installed: pip install onnxruntime"
    return True, "CPU" + (" and CUDA" if cuda_memory.device_count() and ort_gpu_installed() else "")


def openvino_status() -> tuple[bool, str]:
    """OpenVINO: the ``[openvino]`` extra, CPU only."""
    return (
        (True, "CPU")
        if installed("openvino")
        else (False, 'not installed: pip install "microcalc[openvino]"')
    )


def tensorrt_status(libraries: tuple[str, ...]) -> tuple[bool, str]:
    """TensorRT (any of ``libraries``, e.g. ``tensorrt_rtx``) needs cuda-python and a CUDA device."""
    found = [lib for lib in libraries if installed(lib)]
    if not found:
        return False, 'not installed: pip install "microcalc[rtx]" or "microcalc[tensorrt]"'
    if not installed("cuda.bindings"):
        return False, 'cuda-python not installed: pip install "microcalc[rtx]"'
    gpus = cuda_memory.device_count()
    if not gpus:
        return False, "no CUDA device"
    return True, f"{', '.join(found)} on {gpus} GPU(s)"


def torch_status() -> tuple[bool, str]:
    """torch: the ``[train]`` extra; the slow reference."""
    return (
        (True, "reference (slow)")
        if installed("torch")
        else (False, 'not installed: pip install "microcalc[train]"')
    )
