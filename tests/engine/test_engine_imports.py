"""The engine must import on a scanning workstation without torch or onnx."""

from __future__ import annotations

import subprocess
import sys

# every engine module owned by the pipeline (the backends have their own tests)
MODULES = ["microcalc.engine", "microcalc.engine.mask", "microcalc.engine.tiler", "microcalc.engine.ring",
           "microcalc.engine.pipeline", "microcalc.engine.findings", "microcalc.engine.render",
           "microcalc.engine.report", "microcalc.engine.inputs", "microcalc.engine.cli"]

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'onnx', 'torchvision'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import importlib
for m in sys.argv[1:]:
    importlib.import_module(m)
bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'onnx')]
print('loaded:', bad)
sys.exit(1 if bad else 0)
"""


def test_engine_imports_without_torch_or_onnx():
    proc = subprocess.run([sys.executable, "-c", BLOCK, *MODULES], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "loaded: []" in proc.stdout
