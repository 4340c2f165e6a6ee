"""OpenVINO backend: Intel CPUs with their matrix units (AVX512-VNNI, AMX) doing the work.

What ``precision`` means here (the bundle variant read, and the compute OpenVINO runs):

* ``fp32``: the FP32 ONNX model with ``INFERENCE_PRECISION_HINT=f32``: float32 math, parity
  with torch within 1e-4.
* ``fp16``: the FP16 ONNX model. x86 CPUs have no fast FP16 path, so OpenVINO is asked for
  ``bf16``: on CPUs with AMX-BF16 or AVX512-BF16 (Sapphire Rapids and later) it **executes as
  BF16** on the AMX tiles; on other CPUs it runs in f32 (the FP16 weights are upcast).
* ``int8``: the Q/DQ ONNX model. OpenVINO's low-precision transformations turn each
  QuantizeLinear/DequantizeLinear pair into INT8 convolutions and matrix products, run by
  AMX-INT8 or VNNI kernels where the CPU has them (``runtime_precisions()`` shows which).

The compiled model is cached under ``MICROCALC_HOME/ov_cache`` (``CACHE_DIR``), so a second
scan skips compilation. ``submit`` starts an asynchronous infer request on the batch buffer
without copying it (shared memory); with ``num_requests`` >= 2 one batch computes while the
caller fills and submits the next.

Which hint and whether OpenVINO pins its threads to cores is chosen per host and model by
:mod:`~microcalc.engine.backends.cpu_config` (``mc-bench --tune``'s measured choice, else
``THROUGHPUT`` pinned) and shown by :meth:`OpenVinoBackend.runtime` (the scan report's ``runtime``).
The default ``PERFORMANCE_HINT`` is ``THROUGHPUT``: OpenVINO makes CPU streams (two on two cores,
one thread each) and runs the ``num_requests`` batches in flight side by side, where ``LATENCY``
runs them one after another with every core on each. mc-scan's pipeline keeps two batches in
flight (a ring of three buffers), and there ``THROUGHPUT`` scanned a 34-tile mammogram with 5-9%
less CPU time than ``LATENCY`` (interleaved, benchmarks/RESULTS.md, issue 14): the streams do not
meet at a barrier after every layer. A synchronous :meth:`infer` splits its batch over the
requests, so that one batch also keeps every stream busy.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.engine.backends import availability, cpu_config, registry
from microcalc.engine.backends.base import (
    PRECISIONS,
    Backend,
    BatchResult,
    PendingBatch,
    check_precision,
)
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import InputError, import_optional
from microcalc.tensor_names import INPUT, OUTPUTS

HINTS = cpu_config.HINTS


def inference_precision(precision: str, *, has_bf16: bool) -> str:
    """The ``INFERENCE_PRECISION_HINT`` for a bundle precision on a CPU (see the module docstring)."""
    if check_precision(precision) == "fp16" and has_bf16:
        return "bf16"
    return "f32"


class OpenVinoBackend(Backend):
    """Runs one ONNX variant of a bundle with OpenVINO on the CPU.

    Args:
        model_path: the ONNX file of the variant.
        input_shape: ``(1, P, P)``.
        max_batch: largest batch ``submit`` accepts.
        precision: the variant's precision (``fp32``, ``fp16`` -> bf16 compute, ``int8``).
        performance_hint: ``THROUGHPUT`` (CPU streams, one per request in flight, see the module
            docstring) or ``LATENCY`` (all cores on one request at a time) [default: the host's
            choice, :func:`~microcalc.engine.backends.cpu_config.choose`].
        pinning: pin OpenVINO's threads to cores [default: the host's choice].
        model_sha256: the variant's SHA-256, the key of the host's measured choice (``mc-bench --tune``).
        num_requests: infer requests in flight at most (batches that overlap).
        cache_dir: compiled-model cache (default ``MICROCALC_HOME/ov_cache``).
        device: the OpenVINO device, ``CPU`` by default.
    """

    name = "openvino"
    module = "openvino"
    extra = "openvino"

    def __init__(
        self,
        model_path: str | Path,
        *,
        input_shape: tuple[int, int, int],
        max_batch: int,
        precision: str = "fp32",
        performance_hint: str | None = None,
        pinning: bool | None = None,
        model_sha256: str | None = None,
        num_requests: int = 2,
        cache_dir: str | Path | None = None,
        device: str = "CPU",
    ) -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        chosen = cpu_config.choose(model_sha256)
        if performance_hint is not None or pinning is not None:  # asked for: overrides the host's choice
            chosen = cpu_config.CpuConfig(
                hint=performance_hint or chosen.hint,
                pinning=chosen.pinning if pinning is None else pinning,
                source="asked",
            )
        self.cpu_config = chosen
        if num_requests < 1:
            raise ValueError(f"num_requests must be at least 1, got {num_requests}")
        self.model_path = Path(model_path)
        self.precision = check_precision(precision)
        self.performance_hint = chosen.hint
        self.num_requests = num_requests
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.device = device
        self.compiled: Any = None
        self._requests: list[Any] = []
        self._in_flight: list[PendingBatch | None] = []
        self._next = 0

    @property
    def config(self) -> dict[str, str]:
        """The properties passed to ``compile_model``."""
        from microcalc.defaults import home

        return {
            "CACHE_DIR": str(self.cache_dir or home() / "ov_cache"),
            **self.cpu_config.openvino_properties(),
            "INFERENCE_PRECISION_HINT": inference_precision(self.precision, has_bf16=cpu_info().has_bf16),
        }

    def runtime(self) -> dict[str, Any]:
        """How the model runs on this host (the scan report's ``runtime``): the configuration and why,
        the requests in flight, and once active the streams and threads OpenVINO made of it."""
        out: dict[str, Any] = {**self.cpu_config.to_dict(), "requests": self.num_requests}
        if self.compiled is not None:
            for key in ("NUM_STREAMS", "INFERENCE_NUM_THREADS"):
                out[key.lower()] = int(self.compiled.get_property(key))
        return out

    def _activate_impl(self) -> None:
        ov = import_optional("openvino", extra=self.extra, purpose="the openvino backend")
        if not self.model_path.is_file():
            raise InputError(f"{self.model_path}: no such ONNX model")
        config = self.config
        Path(config["CACHE_DIR"]).mkdir(parents=True, exist_ok=True)
        core = ov.Core()
        try:
            model = core.read_model(str(self.model_path))
        except RuntimeError as exc:
            raise InputError(
                f"{self.model_path}: OpenVINO cannot read it ({str(exc).splitlines()[0][:200]})"
            ) from exc
        self._check_io(model)
        self.compiled = core.compile_model(model, self.device, config)
        self._requests = [self.compiled.create_infer_request() for _ in range(self.num_requests)]
        self._in_flight = [None] * self.num_requests

    def _check_io(self, model: Any) -> None:
        inputs = {name for port in model.inputs for name in port.get_names()}
        outputs = {name for port in model.outputs for name in port.get_names()}
        if INPUT not in inputs or not set(OUTPUTS) <= outputs:
            raise InputError(
                f"{self.model_path}: expected input '{INPUT}' and outputs {', '.join(OUTPUTS)}; "
                f"found {sorted(inputs)} -> {sorted(outputs)}"
            )
        shape = model.input(INPUT).get_partial_shape()
        dims = [d.get_length() if d.is_static else None for d in shape]
        if len(dims) != 4 or dims[1:] != list(self.input_shape):
            raise InputError(
                f"{self.model_path}: input '{INPUT}' has shape {shape}, "
                f"expected [N, {', '.join(map(str, self.input_shape))}]"
            )

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        import openvino as ov

        slot = self._next
        self._next = (slot + 1) % self.num_requests
        previous = self._in_flight[slot]
        if previous is not None:
            previous.result()  # finish (and keep) the older batch before its request is reused
        request = self._requests[slot]
        request.set_tensor(INPUT, ov.Tensor(batch[:n], shared_memory=True))
        start = time.perf_counter()
        request.start_async()

        def wait() -> BatchResult:
            request.wait()
            elapsed = (time.perf_counter() - start) * 1e3
            self._in_flight[slot] = None
            return BatchResult(
                p_cluster=request.get_tensor(OUTPUTS[0]).data.copy(),
                cam=request.get_tensor(OUTPUTS[1]).data.copy(),
                timings_ms={"compute": elapsed},
            )

        pending = PendingBatch(wait)
        self._in_flight[slot] = pending
        return pending

    def infer(self, tiles: np.ndarray) -> BatchResult:
        """One synchronous batch, split over the infer requests so that every stream works on it."""
        if tiles.shape[0] < 2:
            return super().infer(tiles)
        parts = np.array_split(tiles, min(self.num_requests, tiles.shape[0]))  # views, no copies
        pending = [self.submit(part, part.shape[0]) for part in parts]
        results = [batch.result() for batch in pending]
        return BatchResult(
            p_cluster=np.concatenate([r.p_cluster for r in results]),
            cam=np.concatenate([r.cam for r in results]),
            timings_ms={"compute": max(r.timings_ms["compute"] for r in results)},
        )

    def kernels(self) -> Counter:
        """Convolution / matrix-product layers per executed kernel, e.g. ``brgconv_avx512_amx_I8``:
        the evidence that AMX or VNNI kernels run (read from OpenVINO's runtime model)."""
        self._check_active()
        counts: Counter = Counter()
        for op in self.compiled.get_runtime_model().get_ordered_ops():
            info = op.get_rt_info()
            if info["layerType"].astype(str) in ("Convolution", "FullyConnected", "MatMul"):
                counts[info["primitiveType"].astype(str)] += 1
        return counts

    def _deactivate_impl(self) -> None:
        for pending in self._in_flight:
            if pending is not None:
                pending.result()
        self._requests, self._in_flight, self.compiled, self._next = [], [], None, 0


def _from_bundle(bundle: Any, *, device: str, **options: Any) -> Backend:
    """The bundle's ONNX variant (``device`` is always ``cpu`` here); the variant's hash keys the host's
    measured configuration (:mod:`~microcalc.engine.backends.cpu_config`)."""
    options.setdefault("model_sha256", bundle.variant(precision=options["precision"]).sha256)
    return registry.onnx_variant(OpenVinoBackend, bundle, **options)


registry.register(
    registry.BackendSpec(
        name=OpenVinoBackend.name,
        devices=("cpu",),
        precisions=PRECISIONS,
        from_bundle=_from_bundle,
        status=availability.openvino_status,
    )
)
