"""``mc-bench``'s end-to-end scan measure (microcalc.bench.scan) with a known predictor and triage model:
what the model-only time holds (issue 26: the triage model is half of the cascade) and how each
efficiency is formed. Fast: no trained model, a 600x500 phantom instead of a DICOM."""

from __future__ import annotations

from pathlib import Path

import pytest

from microcalc.bench import scan as bench_scan
from microcalc.bench import variants
from microcalc.bundle import Bundle
from microcalc.engine import session
from tests.engine.engine_fakes import MeanBackend, add_max_triage, as_image, phantom, write_tiny_bundle

PATCH = 64


@pytest.fixture
def measured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """measure_scan of a phantom with the tiny bundle plus its max/255 triage; the report and the backend."""
    bundle = Bundle.load(
        add_max_triage(write_tiny_bundle(tmp_path / "bundle", patch=PATCH, threshold=0.1), threshold=0.5)
    )
    backends: list[MeanBackend] = []

    def make(spec, b, *, precision, max_batch):
        backend = MeanBackend(patch=PATCH, max_batch=max_batch)
        backends.append(backend)
        return backend

    monkeypatch.setattr(variants, "make_backend", make)
    monkeypatch.setattr(session, "read_mammogram", lambda path, **_: as_image(phantom()))
    report = bench_scan.measure_scan(
        bundle, backend="mean", precision="fp32", batch_size=4, mammogram=tmp_path / "m.dcm", stream=2
    )
    return report, backends[0]


def test_model_only_counts_both_models_of_the_cascade(measured):
    report, _ = measured
    assert (
        report["triage"]["skipped"] > 0
        and report["tiles"] == report["triage"]["tiles"] - report["triage"]["skipped"]
    )
    parts = report["model_only_parts_ms"]
    assert parts["triage"] > 0 and parts["main"] > 0
    assert report["model_only_ms"] == pytest.approx(parts["main"] + parts["triage"])
    assert report["efficiency"] == pytest.approx(report["model_only_ms"] / report["wall_ms"])
    assert report["cpu_efficiency"] == pytest.approx(report["model_only_cpu_ms"] / report["cpu_ms"])
    front = report["decode_in_front"]  # its own model-only run, measured right after it
    assert front["efficiency"] == pytest.approx(front["model_only_ms"] / front["wall_ms"])


def test_worklist_model_only_scales_each_model_by_what_it_ran(measured):
    report, _ = measured
    stream = report["stream"]
    assert stream["images"] == 2 and stream["tiles"] == 2 * report["tiles"]
    wall = stream["wall_ms_per_image"] * stream["images"]
    assert stream["efficiency"] == pytest.approx(stream["model_only_ms"] / wall)
    assert stream["model_only_ms"] == pytest.approx(sum(stream["model_only_parts_ms"].values()))
    assert len(report["load_average"]) == 3


def test_warm_up_runs_every_batch_in_flight(measured):
    _, backend = measured
    # ring depth 3: two batches in flight in the pipeline, so the warm-up submits two buffers together
    warm = backend.submitted[:2]
    assert len({buffer for buffer, _ in warm}) == 2 and all(n == 4 for _, n in warm)
