"""One home for an ONNX Runtime session: triage and export parity run through OnnxRuntimeBackend."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from engine_fakes import TINY_PATCH as P
from engine_fakes import TINY_THRESHOLD, add_max_triage, write_tiny_bundle

from microcalc.bundle import Bundle
from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend
from microcalc.engine.triage import Triage

ROOT = Path(__file__).resolve().parents[2] / "microcalc"


def test_only_the_backend_builds_an_onnxruntime_session():
    """``InferenceSession(`` appears in one module of microcalc: the ONNX Runtime backend."""
    pattern = re.compile(r"InferenceSession\(")
    builders = sorted(str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if pattern.search(p.read_text()))
    assert builders == ["engine/backends/onnxruntime.py"]


def test_triage_runs_on_the_onnxruntime_backend(tmp_path, monkeypatch):
    """The bundle's triage opens an OnnxRuntimeBackend (CPU, p_cluster only, no spin-waiting) for the
    main model's tile size, and its scores are the model's: max / 255 of each tile."""
    activated = []
    real = OnnxRuntimeBackend._activate_impl
    monkeypatch.setattr(OnnxRuntimeBackend, "_activate_impl", lambda b: activated.append(b) or real(b))
    root = write_tiny_bundle(tmp_path / "triaged", patch=P, threshold=TINY_THRESHOLD)
    triage = Triage.from_bundle(Bundle.load(add_max_triage(root, threshold=0.5)))
    assert len(activated) == 1 and triage.backend(P) is activated[0]
    backend = activated[0]
    assert (backend.provider, backend.outputs, backend.input_shape) == ("cpu", ("p_cluster",), (1, P, P))
    tiles = np.zeros((3, 1, P, P), np.uint8)
    tiles[1, 0, 5, 5], tiles[2, 0, 0, 0] = 255, 51
    result = backend.infer(tiles)
    np.testing.assert_allclose(result.p_cluster, [0.0, 1.0, 0.2], atol=1e-6)
    assert result.cam.shape == (3, 0, 0)  # no CAM asked for
    triage.close()
    assert not backend.is_active
