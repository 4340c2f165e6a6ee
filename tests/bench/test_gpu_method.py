"""mc-bench's GPU methodology without a GPU: batches in flight, stage percentiles, the engine-profile
check, the worklist decoded in processes, and the tables that show them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from microcalc.bench.markdown import render
from microcalc.bench.runner import BenchSettings, check_engine_batches
from microcalc.bench.throughput import measure_in_flight
from microcalc.engine.backends.base import Backend, BatchResult, PendingBatch
from microcalc.errors import MicrocalcError
from tests.bench.test_report import make_report


class CountingBackend(Backend):
    """Results are deferred until asked for; records how many batches were in flight at once."""

    name, module, extra = "counting", "numpy", "dev"

    def __init__(self) -> None:
        super().__init__(input_shape=(1, 4, 4), max_batch=8)
        self.in_flight = self.most_in_flight = self.submitted = 0
        self.first_values: list[int] = []

    def _activate_impl(self) -> None:
        pass

    def _submit_impl(self, batch: np.ndarray, n: int) -> PendingBatch:
        self.submitted += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.first_values.append(int(batch[0, 0, 0, 0]))

        def wait() -> BatchResult:
            self.in_flight -= 1
            k = self.submitted % 10  # stage times 1..10 ms, so p99 differs from the median
            return BatchResult(
                np.zeros(n, np.float32),
                np.zeros((n, 1, 1), np.float32),
                {"h2d": 1.0 + k, "compute": 2.0, "d2h": 0.5},
            )

        return PendingBatch(wait)


def test_in_flight_keeps_the_asked_number_submitted_and_reports_stage_percentiles():
    tiles = np.arange(12, dtype=np.uint8).reshape(12, 1, 1, 1).repeat(4, 2).repeat(4, 3)
    with CountingBackend() as backend:
        out = measure_in_flight(backend, tiles, batch_size=4, in_flight=3, warmup_ms=20, duration_s=0.05)
    assert backend.most_in_flight == 3 and backend.in_flight == 0  # three submitted throughout, all drained
    assert backend.submitted > out["batches"] >= 3  # the warm-up batches are not counted
    assert out["patches_per_s"] == pytest.approx(out["batches"] * 4 / out["seconds"])
    assert sorted(set(backend.first_values)) == [0, 4, 8]  # each buffer holds different tiles
    assert out["stages_ms"]["compute"] == 2.0 and out["stages_p99_ms"]["d2h"] == 0.5
    assert out["stages_p99_ms"]["h2d"] >= out["stages_ms"]["h2d"]
    assert set(out["latency_ms"]) == {"p50", "p90", "p99", "mean"} and out["in_flight"] == 3


def test_in_flight_refuses_bad_settings():
    with CountingBackend() as backend, pytest.raises(ValueError, match="duration_s > 0"):
        measure_in_flight(
            backend, np.zeros((1, 1, 4, 4), np.uint8), batch_size=2, in_flight=2, warmup_ms=0, duration_s=0
        )


def _bundle(profile_max: int) -> SimpleNamespace:
    engine = SimpleNamespace(format="tensorrt", precision="fp16", file="model.fp16.engine")
    onnx = SimpleNamespace(format="onnx", precision="fp16", file="model.fp16.onnx")
    return SimpleNamespace(
        variants=[onnx, engine],
        sidecar=lambda v: {"profile": {"max": [profile_max, 1, 8, 8]}} if v is engine else {},
        file=lambda v: Path("/b") / v.file,
    )


@pytest.mark.parametrize(
    "backends, batches, profile_max, refused",
    [
        (
            ("tensorrt",),
            (1, 8, 32, 64),
            16,
            True,
        ),  # the desk-review defect: suite asks 32, engine stops at 16
        (("tensorrt",), (1, 8, 32, 64), 64, False),  # exported with --max-batch covering the suite's batches
        (("onnxruntime-cuda",), (64,), 16, False),  # no engine is used: ONNX has a dynamic batch axis
    ],
)
def test_batches_beyond_an_engine_profile_are_refused_up_front(backends, batches, profile_max, refused):
    settings = BenchSettings(bundle=Path("/b"), backends=backends, precisions=("fp16",), batch_sizes=batches)
    if not refused:
        check_engine_batches(_bundle(profile_max), settings)
        return
    with pytest.raises(
        MicrocalcError,
        match="asks for 64, but the fp16 TensorRT engine /b/model.fp16.engine "
        "takes batches up to 16: .* mc-export --max-batch 64",
    ) as info:
        check_engine_batches(_bundle(profile_max), settings)
    assert "\n" not in str(info.value)


def test_tables_show_the_gpu_split_method_and_worklist():
    report = make_report()
    report["settings"] = {"method": "timed: 200 ms warm-up, then >= 3 s with 3 batches in flight"}
    report["runs"][0].update(
        backend="tensorrt",
        stages_ms={"h2d": 0.5, "compute": 4.0, "d2h": 0.25},
        stages_p99_ms={"h2d": 0.75, "compute": 5.0, "d2h": 0.5},
    )
    report["scan"]["stream"].update(images=50, tiles=2000, images_per_s=41.5, decode_workers=14)
    report["runs"][2].update(backend="torch-cuda", patches_per_s=2100.0, batch_size=64)  # fp16, passes parity
    text = render(
        report,
        min_speedup=12,
        min_efficiency=0.9,
        min_patches_per_s={"fp16": 2000, "bf16": 2000},
        min_images_per_s=40,
    )
    assert "- FP16 throughput: 2100 patches/s (torch-cuda batch 64) (target 2000): met." in text
    assert "- BF16 throughput: none passing parity (target 2000): MISSED." in text
    assert "- Worklist end to end: 41.5 mammograms/s (target 40): met." in text
    assert "Model throughput (timed: 200 ms warm-up, then >= 3 s with 3 batches in flight;" in text
    assert "| 0.50 / 4.00 / 0.25 (p99 0.75 / 5.00 / 0.50) |" in text
    assert "41.50 images/s | decoded in 14 processes |" in text


def test_worklist_prepared_in_processes_matches_in_process(tmp_path):
    from microcalc.bench.worklist import decode_pool, prepared_in_processes
    from microcalc.engine.prepare import prepare
    from microcalc.engine.settings import ScanSettings
    from tests.bench.worklist_reader import read_phantom

    paths = [tmp_path / f"img-{k}.dcm" for k in range(5)]
    settings = ScanSettings(threshold=0.5, batch_size=4)
    with decode_pool(2) as pool:
        got = list(
            prepared_in_processes(
                pool, paths, reader=read_phantom, settings=settings, patch_size=64, workers=2
            )
        )
    assert [r.index for r in got] == list(range(5)) and [r.path for r in got] == paths
    for result in got:
        here = prepare(result.index, result.path, reader=read_phantom, settings=settings, patch_size=64)
        assert result.error is None and len(result.grid) == len(here.grid) > 0
        np.testing.assert_array_equal(result.image.pixels, here.image.pixels)
