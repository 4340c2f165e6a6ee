"""Which backend runs which variant: a thin layer over :mod:`microcalc.engine.backends.registry`.

A backend is named as the registry names it (``onnxruntime``, ``openvino``, ``tensorrt``,
``torch``), with ``-cuda`` to run ONNX Runtime or torch on the GPU (``onnxruntime-cuda``); a bare
``onnxruntime`` is the CPU session. ``mc-bench`` asks for every backend by name and records why
one cannot run here (library missing, no GPU, variant absent from the bundle) rather than
dropping it silently.
"""

from __future__ import annotations

from typing import Any

from microcalc.errors import MicrocalcError


def parse_backend(spec: str) -> tuple[str, str]:
    """``"onnxruntime-cuda"`` -> ``("onnxruntime", "cuda")``; ``"openvino"`` -> ``("openvino", "cpu")``."""
    name, _, device = spec.partition("-")
    return name, device or "cpu"


def start_backend(spec: str, bundle: Any, *, precision: str, max_batch: int) -> Any:
    """An active backend for ``bundle``'s ``precision`` variant (the caller deactivates it).

    Raises:
        MicrocalcError: the backend cannot run here; the message says why.
    """
    from microcalc.engine import cuda_memory
    from microcalc.engine.backends import availability, registry

    name, device = parse_backend(spec)
    status = {n: (ok, reason) for n, ok, reason in availability.backend_status()}
    if name not in status or device not in ("cpu", "cuda"):
        raise MicrocalcError(
            f"unknown backend {spec!r}; expected one of {', '.join(status)} "
            "(add -cuda for onnxruntime or torch on a GPU)"
        )
    ok, reason = status[name]
    if not ok:
        raise MicrocalcError(reason)
    if device == "cuda" and not cuda_memory.device_count():
        raise MicrocalcError("no CUDA device")
    options = {"device": device} if name in ("onnxruntime", "torch") else {}
    backend = registry.create_backend(name, bundle, precision=precision, max_batch=max_batch, **options)
    backend.activate()
    return backend
