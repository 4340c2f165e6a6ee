"""Ray is imported only when ``mc-scan --ray`` runs: the edge runtime never needs it."""

from __future__ import annotations

import subprocess
import sys

BLOCK = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('ray', 'torch', 'onnx'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
import microcalc.scan_cli, microcalc.cluster.driver, microcalc.cluster.workers, microcalc.cluster.ledger
print('loaded:', sorted({m.split('.')[0] for m in sys.modules} & {'ray', 'torch', 'onnx'}))
"""


def test_mc_scan_and_the_cluster_package_import_without_ray():
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "loaded: []" in proc.stdout
