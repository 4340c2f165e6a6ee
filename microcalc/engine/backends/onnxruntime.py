"""ONNX Runtime backend: the embedded default on CPU, and CUDA / TensorRT execution providers.

CPU: the session is tuned for one big batch at a time: all graph optimisations, one intra-op
thread per physical core (hyper-threads only contend for the same vector units), sequential
execution (the graph is a chain; parallel branches gain nothing), and threads that sleep between
operators instead of spin-waiting: ResNet18 674 px INT8 took 1.16-1.42x more process CPU per patch
with ONNX Runtime's default spinning, at no gain in wall time, on the shared 2-core EPYC of issue 26
(benchmarks/RESULTS.md); spinning threads also take the cores from a pipeline's other threads.
``submit`` hands the batch to one worker thread, and ONNX Runtime releases the GIL while it
computes, so the caller fills the next buffer while this one runs.

GPU (``provider="cuda"`` or ``"tensorrt"``, needs ``onnxruntime-gpu`` and cuda-python): the
host batch buffers are pinned (:mod:`microcalc.engine.cuda_memory`), the tiles are copied
once to a device buffer bound with IO binding, outputs stay on the device until copied back, so
ONNX Runtime never stages its own copies.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from microcalc.engine import cuda_memory
from microcalc.engine.backends import availability, registry
from microcalc.engine.backends.base import (
    PRECISIONS,
    Backend,
    BatchResult,
    PendingBatch,
    check_precision,
)
from microcalc.engine.cpu_info import cpu_info
from microcalc.errors import InputError, MicrocalcError, MissingDependencyError, import_optional
from microcalc.tensor_names import INPUT, OUTPUTS

PROVIDERS = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
}


class OnnxRuntimeBackend(Backend):
    """Runs one ONNX variant of a bundle with ONNX Runtime.

    Args:
        model_path: the ONNX file (uint8 ``tiles`` -> ``p_cluster``, ``cam``).
        input_shape: ``(1, P, P)``.
        max_batch: largest batch ``submit`` accepts.
        provider: ``cpu``, ``cuda`` or ``tensorrt`` (the last two need onnxruntime-gpu).
        precision: the variant's precision; with ``tensorrt`` an ``fp16`` variant enables FP16 kernels.
        threads: intra-op threads on CPU (default: physical cores).
        device_id: the CUDA device for GPU providers.
        cache_dir: where the TensorRT provider keeps its built engines.
        outputs: what to fetch: both, or ``p_cluster`` alone (the triage model has no CAM; ``cam``
            is then empty). Spatial input dimensions the model leaves free take ``input_shape``.
    """

    name = "onnxruntime"
    module = "onnxruntime"
    extra = "cuda"

    def __init__(
        self,
        model_path: str | Path,
        *,
        input_shape: tuple[int, int, int],
        max_batch: int,
        provider: str = "cpu",
        precision: str = "fp32",
        threads: int | None = None,
        device_id: int = 0,
        cache_dir: str | Path | None = None,
        outputs: tuple[str, ...] = OUTPUTS,
    ) -> None:
        super().__init__(input_shape=input_shape, max_batch=max_batch)
        if provider not in PROVIDERS:
            raise MicrocalcError(
                f"unknown onnxruntime provider {provider!r}; expected one of {', '.join(PROVIDERS)}"
            )
        self.model_path = Path(model_path)
        self.provider = provider
        self.precision = check_precision(precision)
        self.threads = threads
        self.device_id = device_id
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.outputs = tuple(outputs)
        self.session: Any = None
        self._worker: ThreadPoolExecutor | None = None
        self._pinned: list[int] = []
        self._device_input: Any = None
        self._stream: Any = None

    # ---- hooks ------------------------------------------------------------------------------
    def _activate_impl(self) -> None:
        try:
            ort = import_optional(
                "onnxruntime", extra="cuda", purpose=f"the onnxruntime {self.provider} backend"
            )
        except MissingDependencyError as exc:
            if self.provider != "cpu":
                raise
            raise MicrocalcError(
                "the onnxruntime backend needs the Python module 'onnxruntime', a core "
                "dependency of microcalc: pip install onnxruntime"
            ) from exc
        if not self.model_path.is_file():
            raise InputError(f"{self.model_path}: no such ONNX model")
        if PROVIDERS[self.provider] not in ort.get_available_providers():
            raise MissingDependencyError(
                "onnxruntime-gpu", "cuda", f"onnxruntime with the {self.provider} provider"
            )
        if self.provider != "cpu":
            cuda_memory.require_device(self.device_id)
            cuda_memory.use_device(self.device_id)
        try:
            self.session = ort.InferenceSession(
                str(self.model_path), sess_options=self._session_options(ort), providers=self._providers()
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph/... types for a bad file
            raise InputError(
                f"{self.model_path}: onnxruntime cannot load it ({str(exc).splitlines()[0][:200]})"
            ) from exc
        self._check_providers()
        self._check_io()
        if self.provider != "cpu":
            self._stream = cuda_memory.Stream(
                self.device_id, marks=("start", "h2d")
            )  # the copy is ours to time
            self._device_input = cuda_memory.HostDeviceMem(
                (self.max_batch, *self.input_shape), self.input_dtype, device=self.device_id
            )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mc-ort")

    def _session_options(self, ort: ModuleType) -> Any:
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = self.threads or cpu_info().physical_cores
        opts.inter_op_num_threads = 1
        if self.provider == "cpu":  # see the module docstring: no spin-waiting between operators
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def _providers(self) -> list[Any]:
        cpu = "CPUExecutionProvider"
        if self.provider == "cpu":
            return [cpu]
        cuda = ("CUDAExecutionProvider", {"device_id": self.device_id})
        if self.provider == "cuda":
            return [cuda, cpu]
        from microcalc.defaults import home

        cache = self.cache_dir or home() / "ort_trt_cache"
        cache.mkdir(parents=True, exist_ok=True)
        trt = (
            "TensorrtExecutionProvider",
            {
                "device_id": self.device_id,
                "trt_fp16_enable": self.precision == "fp16",
                "trt_int8_enable": self.precision == "int8",
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_profile_min_shapes": f"{INPUT}:1x{'x'.join(map(str, self.input_shape))}",
                "trt_profile_opt_shapes": f"{INPUT}:{self.max_batch}x{'x'.join(map(str, self.input_shape))}",
                "trt_profile_max_shapes": f"{INPUT}:{self.max_batch}x{'x'.join(map(str, self.input_shape))}",
            },
        )
        return [trt, cuda, cpu]

    def _check_providers(self) -> None:
        """Fail when the session did not load the asked-for provider.

        ``get_available_providers()`` lists what onnxruntime was built with, not what loads: when
        the CUDA or TensorRT libraries are missing or mismatched, the session quietly runs on the
        CPU. ``session.get_providers()`` says what it really uses.
        """
        wanted = PROVIDERS[self.provider]
        loaded = self.session.get_providers()
        if wanted not in loaded:
            self.session = None
            raise MicrocalcError(
                f"{self.model_path}: onnxruntime could not load {wanted} and would run on "
                f"{', '.join(loaded) or 'nothing'}; check the CUDA/cuDNN (and TensorRT) libraries "
                "that onnxruntime-gpu needs are installed and on the library path"
            )

    def _check_io(self) -> None:
        inputs = {i.name: i for i in self.session.get_inputs()}
        outputs = {o.name for o in self.session.get_outputs()}
        if INPUT not in inputs or not set(self.outputs) <= outputs:
            raise InputError(
                f"{self.model_path}: expected input '{INPUT}' and outputs {', '.join(self.outputs)}; "
                f"found {sorted(inputs)} -> {sorted(outputs)}"
            )
        shape = inputs[INPUT].shape
        if len(shape) != 4 or any(isinstance(d, int) and d != w for d, w in zip(shape[1:], self.input_shape)):
            raise InputError(
                f"{self.model_path}: input '{INPUT}' has shape {shape}, "
                f"expected [N, {', '.join(map(str, self.input_shape))}]"
            )

    def _host_buffer_impl(self, batch_size: int) -> np.ndarray:
        if self.provider == "cpu":
            return super()._host_buffer_impl(batch_size)
        ptr, array = cuda_memory.alloc_pinned(
            (batch_size, *self.input_shape), self.input_dtype, device=self.device_id
        )
        self._pinned.append(ptr)
        return array

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        run = self._run_cpu if self.provider == "cpu" else self._run_bound
        future = self._worker.submit(run, batch, n)
        return PendingBatch(future.result)

    def _run_cpu(self, batch: np.ndarray, n: int) -> BatchResult:
        start = time.perf_counter()
        values = self.session.run(list(self.outputs), {INPUT: batch[:n]})
        return self._result(values, n, {"compute": (time.perf_counter() - start) * 1e3})

    def _result(self, values: list[np.ndarray], n: int, timings_ms: dict[str, float]) -> BatchResult:
        cam = values[1] if len(values) > 1 else np.zeros((n, 0, 0), np.float32)
        return BatchResult(p_cluster=values[0], cam=cam, timings_ms=timings_ms)

    def _run_bound(self, batch: np.ndarray, n: int) -> BatchResult:
        """Pinned host -> device copy on our stream, then an IO-bound run; outputs copied back once.

        Runs on the backend's worker thread, so it makes the device current there first. The copy
        is timed with events; ``run_with_iobinding`` and ``copy_outputs_to_cpu`` return only once
        done, so the host clock around each gives the compute and device-to-host times.
        """
        cuda_memory.use_device(self.device_id)
        mem, stream = self._device_input, self._stream
        nbytes = n * int(np.prod(self.input_shape)) * self.input_dtype.itemsize
        stream.record("start")
        mem.to_device(stream, nbytes, src_ptr=batch.ctypes.data)
        stream.record("h2d")
        h2d = stream.stage_times()["h2d"]  # waits: onnxruntime runs on a stream of its own
        binding = self.session.io_binding()
        binding.bind_input(
            name=INPUT,
            device_type="cuda",
            device_id=self.device_id,
            element_type=self.input_dtype.type,
            shape=(n, *self.input_shape),
            buffer_ptr=mem.device_ptr,
        )
        for name in self.outputs:
            binding.bind_output(name, "cuda", self.device_id)
        start = time.perf_counter()
        self.session.run_with_iobinding(binding)
        computed = time.perf_counter()
        values = binding.copy_outputs_to_cpu()
        done = time.perf_counter()
        return self._result(
            values, n, {"h2d": h2d, "compute": (computed - start) * 1e3, "d2h": (done - computed) * 1e3}
        )

    def _deactivate_impl(self) -> None:
        if self._worker is not None:
            self._worker.shutdown(wait=True)
            self._worker = None
        self.session = None
        if self.provider != "cpu":
            if self._device_input is not None:
                self._device_input.free()
                self._stream.free()
            for ptr in self._pinned:
                cuda_memory.free_pinned(ptr, device=self.device_id)
        self._pinned, self._device_input, self._stream = [], None, None


def _from_bundle(bundle: Any, *, device: str, **options: Any) -> Backend:
    """The bundle's ONNX variant on ``device`` (``provider="tensorrt"`` may replace it)."""
    options.setdefault("provider", device)
    return registry.onnx_variant(OnnxRuntimeBackend, bundle, **options)


registry.register(
    registry.BackendSpec(
        name=OnnxRuntimeBackend.name,
        devices=("cpu", "cuda"),
        precisions=PRECISIONS,
        from_bundle=_from_bundle,
        status=availability.onnxruntime_status,
    )
)
