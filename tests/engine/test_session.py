"""The one scan session every command opens (:mod:`microcalc.engine.session`) and what it fixes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from engine_fakes import TINY_PATCH as P
from engine_fakes import TINY_THRESHOLD, MeanBackend, add_max_triage, phantom, write_tiny_bundle
from PIL import Image

from microcalc import scan_cli
from microcalc.bench import variants
from microcalc.bench.scan import measure_scan
from microcalc.bundle import Bundle
from microcalc.engine import session
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.scan_options import DEFAULTS
from microcalc.engine.triage import BATCH as TRIAGE_BATCH
from microcalc.engine.triage import WARM_UP_BATCHES
from microcalc.errors import InputError

OPTIONS = {**DEFAULTS, "operating_point": None, "threshold": None}


def test_an_image_smaller_than_a_tile_but_large_enough_at_the_model_spacing_is_scanned(
    tmp_path, fake_backend
):
    """40x50 px at 0.2 mm is less than one 64-px tile, but 80x100 px at the model's 0.1 mm: scanned."""
    bundle = write_tiny_bundle(tmp_path / "b", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.1)
    image = tmp_path / "small.png"
    Image.fromarray(phantom(40, 50, spots=())).save(image)
    out = tmp_path / "o"
    result = CliRunner().invoke(
        scan_cli.cli, [str(image), "--model", str(bundle), "--out", str(out), "--spacing", "0.2"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads((out / "small.json").read_text())
    assert (report["rows"], report["cols"]) == (40, 50)
    assert report["resampling"]["scanned_shape"] == [80, 100]
    assert report["tiles_scanned"] >= 1
    with Image.open(out / "small.png") as png:  # the overview shows the grid that was scanned
        assert png.size == (100, 80)


def test_an_image_smaller_than_a_tile_where_it_is_scanned_is_refused_in_one_line(tmp_path, fake_backend):
    bundle = write_tiny_bundle(tmp_path / "b", patch=P, threshold=TINY_THRESHOLD, spacing_mm=0.1)
    image = tmp_path / "tiny.png"
    Image.fromarray(phantom(40, 50, spots=())).save(image)
    result = CliRunner().invoke(
        scan_cli.cli, [str(image), "--model", str(bundle), "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 1
    assert (
        f"mc-scan: error: {image}: as scanned the image is 40x50, smaller than one 64x64 tile"
        in result.output
    )


def test_the_plan_refuses_triage_on_a_bundle_without_one_before_anything_loads(tmp_path):
    bundle = Bundle.load(write_tiny_bundle(tmp_path / "b", patch=P, threshold=TINY_THRESHOLD))
    with pytest.raises(InputError, match="this bundle has no triage model"):
        session.plan_scan(bundle, {**OPTIONS, "triage": True})
    with pytest.raises(InputError, match="isolation must be one of process, none"):
        session.plan_scan(bundle, OPTIONS, isolation="thread")
    assert session.plan_scan(bundle, OPTIONS).triage is False


def test_mc_bench_scan_stage_opens_the_session(tmp_path, monkeypatch):
    """mc-bench scans through open_scan: mc-scan's settings and the bundle's triage, not its own copy."""
    root = write_tiny_bundle(tmp_path / "b", patch=P, threshold=TINY_THRESHOLD)
    add_max_triage(root, threshold=0.9)
    image = tmp_path / "m.png"
    Image.fromarray(phantom(300, 250, spots=((150, 100),))).save(image)
    opened = []
    real_open_scan = session.open_scan

    def recording_open_scan(plan, **kwargs):
        opened.append(plan)
        return real_open_scan(plan, **kwargs)

    monkeypatch.setattr(session, "open_scan", recording_open_scan)
    monkeypatch.setattr(
        variants, "make_backend", lambda spec, bundle, **kw: MeanBackend(patch=P, max_batch=4)
    )
    out = measure_scan(
        Bundle.load(root), backend="onnxruntime", precision="fp32", batch_size=4, mammogram=image, stream=2
    )
    (plan,) = opened
    assert plan.settings.overlap == DEFAULTS["overlap"] and plan.settings.min_breast == DEFAULTS["min_breast"]
    assert plan.triage is True and plan.isolation == "none"
    assert out["triage"]["skipped"] > 0 and out["stream"]["images"] == 2


def test_open_scan_warms_the_triage_model_before_the_first_image(tmp_path, monkeypatch):
    """The triage session's first runs (ONNX Runtime allocates and plans its memory) happen while the
    session opens, under the first decode: two full batches of blank tiles, and no image scored yet."""
    root = write_tiny_bundle(tmp_path / "b", patch=P, threshold=TINY_THRESHOLD)
    add_max_triage(root, threshold=0.9)
    runs = []
    real_submit = OnnxRuntimeBackend.submit
    monkeypatch.setattr(
        OnnxRuntimeBackend,
        "submit",
        lambda b, batch, n: runs.append((batch.copy(), n)) or real_submit(b, batch, n),
    )
    plan = session.plan_scan(Bundle.load(root), OPTIONS, isolation="none")
    main = (MeanBackend(patch=P, max_batch=4), {"name": "fake", "precision": "fp32", "sha256": ""}, "fake")
    with session.open_scan(plan, backend=main) as opened:
        assert opened.triage is not None
        assert len(runs) == WARM_UP_BATCHES == 2
        for batch, n in runs:
            assert n == TRIAGE_BATCH and batch.shape == (TRIAGE_BATCH, 1, P, P) and not batch.any()
