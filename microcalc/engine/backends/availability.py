"""Which backends can run on this machine, and why not, without importing any backend library.

Availability is read from installed module specs (``importlib.util.find_spec``) and the CUDA
device count, so listing backends on a scanning workstation never loads TensorRT, OpenVINO or
torch. :mod:`~microcalc.engine.backends.selection` decides with it; ``mc-bench`` prints it.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from microcalc.engine import cuda_memory
from microcalc.engine.backends.tensorrt import LIBRARIES

BACKEND_NAMES = ("onnxruntime", "openvino", "tensorrt", "torch")


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
    """``(name, available, reason)`` for every backend, e.g. ``("tensorrt", False, "no CUDA device")``."""
    gpus = cuda_memory.device_count()
    trt_libs = [lib for lib in LIBRARIES if installed(lib)]
    status = [
        (
            "onnxruntime",
            installed("onnxruntime"),
            ("CPU" + (" and CUDA" if gpus and ort_gpu_installed() else ""))
            if installed("onnxruntime")
            else "not installed: pip install onnxruntime",
        )
    ]
    status.append(
        ("openvino", True, "CPU")
        if installed("openvino")
        else ("openvino", False, 'not installed: pip install "microcalc[openvino]"')
    )
    if not trt_libs:
        status.append(
            ("tensorrt", False, 'not installed: pip install "microcalc[rtx]" or "microcalc[tensorrt]"')
        )
    elif not installed("cuda.bindings"):
        status.append(("tensorrt", False, 'cuda-python not installed: pip install "microcalc[rtx]"'))
    elif not gpus:
        status.append(("tensorrt", False, "no CUDA device"))
    else:
        status.append(("tensorrt", True, f"{', '.join(trt_libs)} on {gpus} GPU(s)"))
    status.append(
        ("torch", True, "reference (slow)")
        if installed("torch")
        else ("torch", False, 'not installed: pip install "microcalc[train]"')
    )
    return status
