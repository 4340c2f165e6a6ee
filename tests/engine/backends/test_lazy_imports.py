"""Backends import their libraries only when activated; a missing library names its pip extra."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

from microcalc.engine.backends.openvino import OpenVinoBackend
from microcalc.engine.backends.tensorrt import TensorRTBackend
from microcalc.engine.backends.torch import TorchBackend
from microcalc.errors import MissingDependencyError

PACKAGES = ("microcalc.engine", "microcalc.evaluation", "microcalc.report_sr", "microcalc.dicomnode")
BLOCK = """
import importlib, pkgutil, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'onnx', 'torchvision'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
names = []
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    names += [m.name for m in pkgutil.walk_packages(root.__path__, package + '.')]
for name in names:
    importlib.import_module(name)
for optional in ('highdicom', 'pynetdicom'):  # the [dicom] extra, imported by mc-scan --sr and mc-serve
    try:
        importlib.import_module(optional)
    except ImportError as exc:
        if 'blocked' in str(exc):
            raise
from microcalc.engine.backends.registry import backend_status
backend_status()
print(len(names), 'modules;', 'loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'onnx'}))
"""


def test_every_engine_module_imports_without_torch_or_onnx():
    """A meta-path finder refuses torch and onnx; every module of the scanner, the SR writer and the
    DICOM node still imports, and so do highdicom and pynetdicom."""
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK, *PACKAGES], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded: []" in proc.stdout
    expected = sum(
        len(list(pkgutil.walk_packages(importlib.import_module(p).__path__, p + "."))) for p in PACKAGES
    )
    assert proc.stdout.startswith(f"{expected} modules")


@pytest.mark.parametrize(
    "blocked, make, extra",
    [
        ("openvino", lambda p: OpenVinoBackend(p, input_shape=(1, 64, 64), max_batch=2), "openvino"),
        ("torch", lambda p: TorchBackend(p, input_shape=(1, 64, 64), max_batch=2), "train"),
        (
            "tensorrt_rtx",
            lambda p: TensorRTBackend(
                p,
                sidecar={"library": "tensorrt_rtx"},
                onnx_sha256=None,
                rebuild="rebuild",
                input_shape=(1, 64, 64),
                max_batch=2,
            ),
            "rtx",
        ),
        (
            "tensorrt",
            lambda p: TensorRTBackend(
                p,
                sidecar={"library": "tensorrt"},
                onnx_sha256=None,
                rebuild="rebuild",
                input_shape=(1, 64, 64),
                max_batch=2,
            ),
            "tensorrt",
        ),
    ],
)
def test_missing_library_names_the_extra(monkeypatch, tmp_path, blocked, make, extra):
    monkeypatch.setitem(sys.modules, blocked, None)  # import of a None entry raises ImportError
    with pytest.raises(MissingDependencyError, match=rf'pip install "microcalc\[{extra}\]"'):
        make(tmp_path / "model").activate()


def test_missing_cuda_python(monkeypatch):
    from microcalc.engine import cuda_memory

    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", None)
    assert cuda_memory.device_count() == 0
    with pytest.raises(MissingDependencyError, match=r"microcalc\[cuda\]"):
        cuda_memory.cuda_runtime()


def test_sr_writer_does_not_import_the_inference_layer():
    """``import_optional`` lives in :mod:`microcalc.errors`, so the SR writer loads no backend module."""
    code = (
        "import sys, microcalc.report_sr.document, microcalc.report_sr.overview;"
        "print(sorted(m for m in sys.modules if m.startswith('microcalc.engine')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"
