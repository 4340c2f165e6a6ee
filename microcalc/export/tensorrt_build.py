"""Build a TensorRT engine from a bundle's ONNX model: one code path for TensorRT 10/11 and TensorRT-RTX.

Both libraries share the Python API (``Builder``, ``OnnxParser``, optimisation profiles,
``build_serialized_network``). Networks are created STRONGLY_TYPED: the precision comes from the
ONNX graph (FP16 tensors, Q/DQ nodes), never from builder flags, which TensorRT 11 removed.
TensorRT-RTX builds ahead of time without a GPU; TensorRT needs the GPU it builds for.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from microcalc.bundle import Variant, file_sha256
from microcalc.errors import MicrocalcError, MissingDependencyError
from microcalc.parity import not_checked
from microcalc.tensor_names import INPUT

LIBRARIES = ("tensorrt", "tensorrt_rtx")
RTX_DEFAULT_CAPABILITIES = ["8.0", "8.6", "8.9", "12.0+"]  # TensorRT-RTX's portable default (its docs)


class EngineBuildError(MicrocalcError):
    """TensorRT could not parse the ONNX model or build an engine from it."""


@dataclass(frozen=True)
class Profile:
    """The optimisation profile over the batch axis N (``--min/--opt/--max-batch``)."""

    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 16

    def __post_init__(self) -> None:
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise ValueError(
                f"need 1 <= min-batch <= opt-batch <= max-batch, got "
                f"{self.min_batch}/{self.opt_batch}/{self.max_batch}"
            )


def import_tensorrt(prefer: str | None = None) -> tuple[ModuleType, str]:
    """Import ``tensorrt`` or else ``tensorrt_rtx`` (or only ``prefer``); returns ``(module, name)``.

    Raises:
        MissingDependencyError: neither is installed (names the pip extra).
    """
    for name in [prefer] if prefer else LIBRARIES:
        try:
            return importlib.import_module(name), name
        except ImportError:
            continue
    raise MissingDependencyError(
        prefer or "tensorrt_rtx",
        "rtx" if prefer != "tensorrt" else "tensorrt",
        '--trt (building a TensorRT engine; or pip install "microcalc[tensorrt]")',
    )


def engine_names(precision: str, library: str) -> tuple[str, str]:
    """``model.<precision>.<library>.engine`` and its ``.json`` sidecar."""
    stem = f"model.{precision}.{library}"
    return f"{stem}.engine", f"{stem}.json"


def _gpu_capability() -> list[str]:
    """The local GPU's compute capability: a TensorRT (non-RTX) engine runs only there."""
    try:
        from cuda.bindings import runtime
    except ImportError:
        return []
    err, props = runtime.cudaGetDeviceProperties(0)
    return [f"{props.major}.{props.minor}"] if int(err) == 0 else []


def _capabilities(trt: ModuleType, library: str, config: Any) -> list[str]:
    if library != "tensorrt_rtx":
        return _gpu_capability()
    count = int(getattr(config, "num_compute_capabilities", 0))
    caps = [str(config.get_compute_capability(i)).rsplit(".", 1)[-1] for i in range(count)]
    caps = [c for c in caps if c not in ("CURRENT", "NONE")]
    return caps or RTX_DEFAULT_CAPABILITIES


def build_engine(
    onnx_path: str | Path,
    engine_path: str | Path,
    sidecar_path: str | Path,
    *,
    precision: str,
    patch_size: int,
    profile: Profile,
    library: str | None = None,
) -> dict[str, Any]:
    """Parse ``onnx_path`` strongly typed, build for ``profile``, write the engine and its sidecar.

    Returns the sidecar (library, version, compute capabilities, profile, ONNX SHA-256, precision).

    Raises:
        MissingDependencyError: no TensorRT library installed.
        EngineBuildError: the parser or the builder failed (first parser error quoted).
    """
    trt, library = import_tensorrt(library)
    logger = trt.Logger(trt.Logger.ERROR)
    try:
        builder = trt.Builder(logger)
    except (RuntimeError, TypeError) as exc:
        raise EngineBuildError(
            f"{library} cannot create a builder here ({exc}); TensorRT needs an NVIDIA GPU, "
            'TensorRT-RTX builds without one: pip install "microcalc[rtx]"'
        ) from exc
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        first = parser.get_error(0).desc() if parser.num_errors else "unknown error"
        raise EngineBuildError(f"{onnx_path}: {library} cannot parse the model ({first})")
    config = builder.create_builder_config()
    shape = (1, patch_size, patch_size)
    opt_profile = builder.create_optimization_profile()
    opt_profile.set_shape(
        INPUT, (profile.min_batch, *shape), (profile.opt_batch, *shape), (profile.max_batch, *shape)
    )
    config.add_optimization_profile(opt_profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise EngineBuildError(f"{onnx_path}: {library} failed to build a {precision} engine")
    Path(engine_path).write_bytes(memoryview(serialized))
    sidecar = {
        "library": library,
        "version": trt.__version__,
        "precision": precision,
        "compute_capabilities": _capabilities(trt, library, config),
        "profile": {
            "input": INPUT,
            "min": [profile.min_batch, *shape],
            "opt": [profile.opt_batch, *shape],
            "max": [profile.max_batch, *shape],
        },
        "onnx_file": Path(onnx_path).name,
        "onnx_sha256": file_sha256(onnx_path),
    }
    Path(sidecar_path).write_text(json.dumps(sidecar, indent=2) + "\n")
    return sidecar


def engine_variants(
    staging: Path,
    onnx_variants: list[Variant],
    *,
    library: str,
    patch_size: int,
    profile: Profile,
    timings: dict[str, float],
    log: Callable[[str], None],
) -> list[Variant]:
    """One TensorRT engine per ONNX variant. Parity of engines needs a GPU and is left to mc-bench/mc-eval."""
    engines = []
    for source in onnx_variants:
        engine, sidecar = engine_names(source.precision, library)
        start = time.perf_counter()
        info = build_engine(
            staging / source.file,
            staging / engine,
            staging / sidecar,
            precision=source.precision,
            patch_size=patch_size,
            profile=profile,
            library=library,
        )
        timings[f"{source.precision}_{library}_s"] = time.perf_counter() - start
        log(
            f"{source.precision}: {library} {info['version']} engine for compute capabilities "
            f"{', '.join(info['compute_capabilities'])}"
        )
        engines.append(
            Variant(
                name=f"{source.precision}.{library}",
                format="tensorrt",
                precision=source.precision,
                file=engine,
                sha256=file_sha256(staging / engine),
                library=library,
                sidecar=sidecar,
                onnx_sha256=source.sha256,
                extra={"profile": info["profile"]},
                parity=not_checked("a TensorRT engine needs a GPU: mc-bench measures it"),
            )
        )
    return engines
