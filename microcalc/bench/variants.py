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


def bench_names() -> tuple[str, ...]:
    """What ``--backends`` accepts: every registered backend, and ``NAME-cuda`` for those that also
    run on CUDA beside the CPU (``onnxruntime-cuda``)."""
    from microcalc.engine.backends import registry

    cuda = [f"{n}-cuda" for n in registry.names() if len(registry.get(n).devices) > 1]
    return (*registry.names(), *cuda)


def make_backend(spec: str, bundle: Any, *, precision: str, max_batch: int) -> Any:
    """An inactive backend for ``bundle``'s ``precision`` variant, named by a mc-bench backend spec
    (``onnxruntime-cuda``: onnxruntime on a GPU).

    Raises:
        MicrocalcError: the backend cannot run here; the message says why.
    """
    from microcalc.engine import cuda_memory
    from microcalc.engine.backends import registry, selection

    name, device = parse_backend(spec)
    known = registry.names()
    if name not in known or (device != "cpu" and device not in registry.get(name).devices):
        raise MicrocalcError(f"unknown backend {spec!r}; expected one of {', '.join(bench_names())}")
    ok, reason = registry.get(name).status()
    if not ok:
        raise MicrocalcError(reason)
    if device == "cuda" and not cuda_memory.device_count():
        raise MicrocalcError("no CUDA device")
    device = device if device in registry.get(name).devices else registry.get(name).devices[0]
    return selection.create_backend(name, bundle, precision=precision, max_batch=max_batch, device=device)


def start_backend(spec: str, bundle: Any, *, precision: str, max_batch: int) -> Any:
    """:func:`make_backend`, activated (the caller deactivates it)."""
    backend = make_backend(spec, bundle, precision=precision, max_batch=max_batch)
    backend.activate()
    return backend
