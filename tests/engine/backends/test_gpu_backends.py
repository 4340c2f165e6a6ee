"""The CUDA paths on a real GPU (marked ``gpu``; each test skips with its reason elsewhere).

``scripts/gpu_verify.sh`` runs these on a lent H100/H200. The CPU-checkable logic of the same
code is tested on stand-ins in test_torch_cuda.py, test_tensorrt_plumbing.py and
test_onnxruntime_backend.py; these check what only a GPU can: real streams, pinned memory,
CUDA graph capture and the numbers that come back.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from microcalc.bundle import Bundle
from microcalc.engine.backends.base import STAGES
from microcalc.engine.backends.torch import TorchBackend

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs an NVIDIA GPU and CUDA PyTorch"),
]


def _torch_backend(bundle: Path, precision: str, **options) -> TorchBackend:
    b = Bundle.load(bundle)
    return TorchBackend(
        b.source_checkpoint(),
        input_shape=(1, 64, 64),
        max_batch=4,
        device="cuda",
        precision=precision,
        **options,
    )


@pytest.mark.parametrize(
    "precision, atol",
    [
        ("fp32", 1e-5),  # TF32 off: FP32 on the GPU matches the CPU reference
        ("fp16", 1e-2),
        ("bf16", 3e-2),
    ],
)
@pytest.mark.parametrize("graphs", [True, False])
def test_torch_cuda_matches_the_reference(tiny_bundle, tiles, reference_scores, precision, atol, graphs):
    got, timings = [], []
    with _torch_backend(tiny_bundle, precision, cuda_graph=graphs) as backend:
        bufs = [backend.host_buffer(4) for _ in range(2)]
        pending = []
        for i, start in enumerate(range(0, len(tiles), 4)):  # a full batch then a padded partial one
            n = min(4, len(tiles) - start)
            bufs[i % 2][:n] = tiles[start : start + n]
            pending.append(backend.submit(bufs[i % 2], n))
        for p in pending:
            result = p.result()
            got.append(result.p_cluster)
            timings.append(result.timings_ms)
        assert backend.runner.graph_failures == {}
    np.testing.assert_allclose(np.concatenate(got), reference_scores[0], atol=atol)
    assert all(list(t) == list(STAGES) and min(t.values()) >= 0 for t in timings)


def test_torch_cuda_from_a_worker_thread_and_ordinary_memory(tiny_bundle, tiles, reference_scores):
    out = {}
    with _torch_backend(tiny_bundle, "fp32") as backend:

        def worker() -> None:
            out["p"] = backend.submit(np.ascontiguousarray(tiles[:3]), 3).result().p_cluster

        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    np.testing.assert_allclose(out["p"], reference_scores[0][:3], atol=1e-5)


def test_onnxruntime_cuda_runs_on_the_gpu(tiny_bundle, tiles, reference_scores):
    import onnxruntime

    from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        pytest.skip("onnxruntime here is CPU-only (onnxruntime-gpu not installed)")
    b = Bundle.load(tiny_bundle)
    with OnnxRuntimeBackend(
        b.file(b.variant(precision="fp32")), input_shape=(1, 64, 64), max_batch=4, provider="cuda"
    ) as backend:
        buf = backend.host_buffer(4)
        buf[:] = tiles[:4]
        result = backend.submit(buf, 4).result()
    np.testing.assert_allclose(result.p_cluster, reference_scores[0][:4], atol=1e-4)
    assert list(result.timings_ms) == list(STAGES)
