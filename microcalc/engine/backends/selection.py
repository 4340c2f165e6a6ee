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
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.bundle import Bundle, Variant
from microcalc.engine import cuda_memory
from microcalc.engine.backends import availability
from microcalc.engine.backends.base import check_precision
from microcalc.engine.backends.engine_check import check_engine
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import MicrocalcError
from microcalc.parity import failure_reason, recorded_pass
from microcalc.rebuild import rebuild_hint


@dataclass(frozen=True)
class Resolution:
    """What ``resolve`` chose: backend name, bundle precision, device, and the reason in words."""

    backend: str
    precision: str
    device: str
    reason: str


@dataclass(frozen=True)
class EngineFiles:
    """What the TensorRT backend needs from a bundle to check and run one engine."""

    engine: Path
    sidecar: dict[str, Any]
    onnx_sha256: str | None
    rebuild: str


def engine_files(bundle: Bundle, variant: Variant) -> EngineFiles:
    """The engine file, its sidecar, the SHA-256 of the ONNX model it must match, and the rebuild hint."""
    onnx = [v for v in bundle.variants if v.format == "onnx" and v.precision == variant.precision]
    return EngineFiles(
        engine=bundle.file(variant),
        sidecar=bundle.sidecar(variant),
        onnx_sha256=onnx[0].sha256 if onnx else variant.onnx_sha256,
        rebuild=rebuild_hint(bundle.manifest, bundle.path, precision=variant.precision, fmt="tensorrt"),
    )


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
    if name != "auto" and name not in availability.BACKEND_NAMES:
        raise MicrocalcError(
            f"unknown backend {name!r}; expected auto or one of {', '.join(availability.BACKEND_NAMES)}"
        )
    if precision != "auto":
        check_precision(precision)
        if not _has(bundle, precision):
            bundle.variant(precision=precision)  # raises InputError listing what the bundle has
    status = {n: (ok, why) for n, ok, why in availability.backend_status()}
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
