"""Backends by name, and the one function that creates them for a bundle.

What can run here is :mod:`~microcalc.engine.backends.availability`; which backend and precision
``auto`` means is :mod:`~microcalc.engine.backends.selection`. Creating a backend loads nothing:
each backend imports its library when activated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from microcalc.bundle import Bundle
from microcalc.engine.backends.base import Backend, check_precision
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.backends.openvino import OpenVinoBackend
from microcalc.engine.backends.selection import engine_files, resolve
from microcalc.engine.backends.tensorrt import TensorRTBackend
from microcalc.engine.backends.torch import TorchBackend
from microcalc.errors import MicrocalcError

BACKENDS: dict[str, type[Backend]] = {
    "onnxruntime": OnnxRuntimeBackend,
    "openvino": OpenVinoBackend,
    "tensorrt": TensorRTBackend,
    "torch": TorchBackend,
}
DEVICES = ("auto", "cpu", "cuda")


def create_backend(
    name: str,
    bundle: Bundle | str | Path,
    *,
    precision: str = "fp32",
    max_batch: int,
    device: str = "auto",
    **options: Any,
) -> Backend:
    """An (inactive) backend running ``bundle``'s ``precision`` variant.

    Args:
        name: ``onnxruntime``, ``openvino``, ``tensorrt`` or ``torch`` (``auto``: see
            :func:`~microcalc.engine.backends.selection.resolve`).
        bundle: a loaded :class:`~microcalc.bundle.Bundle` or its folder.
        precision: ``fp32``, ``fp16``, ``int8`` or ``auto``.
        max_batch: the largest batch that will be submitted.
        device: ``cpu``, ``cuda`` or ``auto`` (onnxruntime and torch; the others have one device).
        options: passed to the backend class (e.g. ``num_requests`` for openvino).

    Example::

        with create_backend("onnxruntime", "bundle/", precision="int8", max_batch=8) as backend:
            p_cluster = backend.infer(tiles).p_cluster
    """
    bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
    if device not in DEVICES:
        raise MicrocalcError(f"unknown device {device!r}; expected one of {', '.join(DEVICES)}")
    if name == "auto" or precision == "auto":
        choice = resolve(name, precision, bundle=bundle)
        name, precision = choice.backend, choice.precision
        device = choice.device if device == "auto" else device
    if name not in BACKENDS:
        raise MicrocalcError(f"unknown backend {name!r}; expected auto or one of {', '.join(BACKENDS)}")
    if name != "torch":  # torch runs the checkpoint, in its own precisions (bf16 too)
        check_precision(precision)
    shape = (1, bundle.config.patch_size, bundle.config.patch_size)
    if name == "tensorrt":
        files = engine_files(bundle, bundle.variant(precision=precision, fmt="tensorrt"))
        return TensorRTBackend(
            files.engine,
            sidecar=files.sidecar,
            onnx_sha256=files.onnx_sha256,
            rebuild=files.rebuild,
            input_shape=shape,
            max_batch=max_batch,
            **options,
        )
    if name == "torch":
        return TorchBackend(
            bundle.source_checkpoints(),
            input_shape=shape,
            max_batch=max_batch,
            device="cuda" if device == "cuda" else "cpu",
            precision=precision,
            **options,
        )
    variant = bundle.variant(precision=precision)
    path = bundle.file(variant)
    if name == "openvino":  # the variant's hash keys the host's measured configuration (cpu_config)
        options.setdefault("model_sha256", variant.sha256)
        return OpenVinoBackend(path, input_shape=shape, max_batch=max_batch, precision=precision, **options)
    provider = options.pop("provider", "cuda" if device == "cuda" else "cpu")
    return OnnxRuntimeBackend(
        path, input_shape=shape, max_batch=max_batch, precision=precision, provider=provider, **options
    )
