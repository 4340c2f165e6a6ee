"""The automatic choice of backend, precision and device for a bundle on this machine, and why.

``resolve`` picks the fastest combination that can run here:

* GPU present: the bundle's TensorRT engine if its library is installed and the engine is valid
  for this GPU (see :mod:`~microcalc.engine.backends.engine_check`), else ONNX Runtime on CUDA
  (onnxruntime-gpu); precision ``auto`` is fp16 where the bundle's fp16 variant passed parity.
* CPU only: OpenVINO if installed, else ONNX Runtime; precision ``auto`` is int8 where the
  bundle's int8 variant passed parity and the CPU has VNNI or AMX, else fp32.

"Passed parity" is the verdict ``mc-export`` recorded in ``bundle.json`` (``parity.passed``,
see :mod:`microcalc.parity`); a variant exported with ``--no-parity`` never qualifies.

The returned :class:`Resolution` carries the reason in words; ``mc-scan`` prints it.
:func:`create_backend` resolves ``auto`` this way and creates the backend through the
:mod:`~microcalc.engine.backends.registry`.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.bundle import Bundle
from microcalc.engine import cuda_memory
from microcalc.engine.backends import availability, registry
from microcalc.engine.backends.base import Backend, check_precision
from microcalc.engine.backends.engine_check import check_engine, engine_files
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import MicrocalcError
from microcalc.parity import failure_reason, recorded_pass


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` chose: backend name, bundle precision, device, and the reason in words."""

    backend: str
    precision: str
    device: str
    reason: str


def _has(bundle: Bundle, precision: str, fmt: str = "onnx") -> bool:
    return any(v.precision == precision and v.format == fmt for v in bundle.variants)


def parity_passed(bundle: Bundle, precision: str) -> tuple[bool, str]:
    """Whether the ``precision`` ONNX variant's recorded parity passed (an engine is built from it),
    and why in words. A variant exported with ``--no-parity``, or by a microcalc that did not
    record ``passed``, has not passed."""
    found = [v for v in bundle.variants if v.format == "onnx" and v.precision == precision]
    if not found:
        return False, f"no {precision} variant in the bundle"
    if not recorded_pass(found[0].parity):
        return False, f"the {precision} variant did not pass parity ({failure_reason(found[0].parity)})"
    return True, f"the {precision} variant passed parity"


def _engine_ok(bundle: Bundle, precision: str) -> tuple[bool, str]:
    """Whether the bundle's engine of ``precision`` can run here (library, version, GPU, ONNX)."""
    engines = [v for v in bundle.variants if v.format == "tensorrt" and v.precision == precision]
    if not engines:
        return False, f"no {precision} TensorRT engine in the bundle"
    variant = engines[0]
    library = variant.library or "tensorrt_rtx"
    if not availability.installed(library):
        return False, f"{library} not installed"
    try:
        files = engine_files(bundle, variant)
        check_engine(
            files.sidecar,
            engine=files.engine,
            library=library,
            version=importlib.import_module(library).__version__,
            capability=cuda_memory.compute_capability(0),
            onnx_sha256=files.onnx_sha256,
            max_batch=1,
            rebuild=files.rebuild,
        )
    except MicrocalcError as exc:
        return False, str(exc)
    return True, f"{variant.name} engine is valid for this GPU"


def resolve(name: str = "auto", precision: str = "auto", *, bundle: Bundle) -> Resolution:
    """Choose backend, precision and device for ``bundle`` on this machine (see module docstring).

    Raises:
        MicrocalcError: an explicit backend or precision cannot run here (the message says why).
    """
    if name != "auto":
        registry.get(name)  # an unknown name: one line listing the known ones
    if precision != "auto":
        check_precision(precision)
        if not _has(bundle, precision):
            bundle.variant(precision=precision)  # raises InputError listing what the bundle has
    status = {n: (ok, why) for n, ok, why in registry.backend_status()}
    if name != "auto" and not status[name][0]:
        raise MicrocalcError(f"backend {name} cannot run here: {status[name][1]}")
    gpu = cuda_memory.device_count() > 0
    fp16_ok, fp16_why = parity_passed(bundle, "fp16")
    if gpu and name in ("auto", "tensorrt"):
        for p in [precision] if precision != "auto" else ["fp16", "fp32"] if fp16_ok else ["fp32"]:
            ok, why = _engine_ok(bundle, p) if status["tensorrt"][0] else (False, status["tensorrt"][1])
            if ok:
                return Resolution(
                    "tensorrt",
                    p,
                    "cuda",
                    why if precision != "auto" or p == "fp16" else f"{why}; fp32: {fp16_why}",
                )
        if name == "tensorrt":
            raise MicrocalcError(f"backend tensorrt cannot run this bundle: {why}")
    if gpu and name in ("auto", "onnxruntime") and availability.ort_gpu_installed():
        p, why = (
            (precision, f"{precision} as asked")
            if precision != "auto"
            else ("fp16", fp16_why)
            if fp16_ok
            else ("fp32", fp16_why)
        )
        return Resolution(
            "onnxruntime", p, "cuda", f"GPU present, onnxruntime-gpu runs the {p} ONNX model; {why}"
        )
    chosen = name if name != "auto" else ("openvino" if status["openvino"][0] else "onnxruntime")
    int8_ok, int8_why = parity_passed(bundle, "int8")
    if precision != "auto":
        p, why = precision, f"{precision} as asked"
    elif chosen == "torch":
        p, why = "fp32", "the torch reference runs fp32"
    elif int8_ok and cpu_info().fast_int8:
        p, why = "int8", f"{int8_why} and this CPU has VNNI/AMX"
    else:
        p, why = "fp32", int8_why if not int8_ok else f"{int8_why} but this CPU lacks VNNI/AMX"
    device = "cuda" if chosen == "torch" and gpu else "cpu"
    lead = "no GPU" if not gpu else "GPU present but no GPU backend fits"
    if name == "auto":
        lead += ", openvino installed" if chosen == "openvino" else ", openvino not installed"
    return Resolution(chosen, p, device, f"{lead}; {p}: {why}")


def create_backend(
    name: str,
    bundle: Bundle | str | Path,
    *,
    precision: str = "fp32",
    max_batch: int,
    device: str = "auto",
    **options: Any,
) -> Backend:
    """An (inactive) backend running ``bundle``'s ``precision`` variant, made by its ``from_bundle``.

    Args:
        name: a registered backend (:func:`~microcalc.engine.backends.registry.names`) or ``auto``
            (:func:`resolve`).
        bundle: a loaded :class:`~microcalc.bundle.Bundle` or its folder.
        precision: one the backend runs (``fp32``, ``fp16``, ``int8``; torch also ``bf16``) or ``auto``.
        max_batch: the largest batch that will be submitted.
        device: ``cpu``, ``cuda`` or ``auto`` (the chosen one, else the backend's first device).
        options: passed to the backend class (e.g. ``num_requests`` for openvino).

    Example::

        with create_backend("onnxruntime", "bundle/", precision="int8", max_batch=8) as backend:
            p_cluster = backend.infer(tiles).p_cluster
    """
    bundle = bundle if isinstance(bundle, Bundle) else Bundle.load(bundle)
    if device not in registry.devices():
        raise MicrocalcError(f"unknown device {device!r}; expected one of {', '.join(registry.devices())}")
    if name == "auto" or precision == "auto":
        choice = resolve(name, precision, bundle=bundle)
        name, precision = choice.backend, choice.precision
        device = choice.device if device == "auto" else device
    spec = registry.get(name)
    device = spec.devices[0] if device == "auto" else device
    if precision not in spec.precisions:
        raise MicrocalcError(
            f"unknown precision {precision!r} for {name}; expected one of {', '.join(spec.precisions)}"
        )
    if device not in spec.devices:
        raise MicrocalcError(f"the {name} backend runs on {', '.join(spec.devices)}, not {device}")
    return spec.from_bundle(bundle, precision=precision, device=device, max_batch=max_batch, **options)
