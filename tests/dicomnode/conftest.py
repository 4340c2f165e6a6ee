"""DICOM node fixtures: free ports, synthetic mammograms with their own studies, a real Orthanc PACS.

Orthanc (Debian package ``orthanc``) runs on 127.0.0.1 with a temporary JSON configuration (no
plugins, its own storage folder, free ports) and is stopped by its PID. Where it or DCMTK is
missing the tests that need it skip and say why (``.ci/run`` installs both when run as root).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("pynetdicom", reason='pynetdicom is not installed: pip install "microcalc[dicom]"')
pytest.importorskip("highdicom", reason='highdicom is not installed: pip install "microcalc[dicom]"')

from dicomnode_helpers import TEST_ALLOW, Node, Orthanc, free_port, need

from microcalc.dicomnode.config import ServeConfig


@pytest.fixture
def start_orthanc(tmp_path: Path):
    """Start fresh Orthancs (``extra``: more configuration, e.g. DICOM TLS); stopped by PID afterwards."""
    binary = need("Orthanc", "orthanc")
    running: list[tuple[subprocess.Popen, object]] = []

    def start(name: str = "orthanc", **extra) -> Orthanc:
        root = tmp_path / name
        (root / "db").mkdir(parents=True)
        dicom_port, http_port = free_port(), free_port()
        config = {
            "Name": "microcalc-test",
            "StorageDirectory": str(root / "db"),
            "IndexDirectory": str(root / "db"),
            "HttpPort": http_port,
            "DicomPort": dicom_port,
            "DicomAet": "ORTHANC",
            "RemoteAccessAllowed": False,
            "AuthenticationEnabled": False,
            "Plugins": [],
            "DicomCheckCalledAet": False,
            "StorageCompression": False,
            "OverwriteInstances": False,
            "ConcurrentJobs": 1,
            **extra,
        }
        (root / "orthanc.json").write_text(json.dumps(config))
        log = (root / "orthanc.log").open("w")
        process = subprocess.Popen([binary, str(root / "orthanc.json")], stdout=log, stderr=subprocess.STDOUT)
        running.append((process, log))
        server = Orthanc(aet="ORTHANC", dicom_port=dicom_port, http_port=http_port, process=process)
        deadline = time.monotonic() + 30
        while True:
            try:
                server.get("/system")
                return server
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"Orthanc did not start: {(root / 'orthanc.log').read_text()[-2000:]}")
                time.sleep(0.2)

    yield start
    for process, log in running:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def orthanc(start_orthanc):
    """A fresh Orthanc (plain DICOM) for one test."""
    return start_orthanc()


@pytest.fixture(scope="session")
def mammograms(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Four 1024x832 synthetic mammograms (mc-synth, seeds 0-3); tests clone them into new studies."""
    from click.testing import CliRunner

    from microcalc.synth.cli import cli as synth

    root = tmp_path_factory.mktemp("mammograms")
    paths = []
    for seed, (view, side) in enumerate((("CC", "L"), ("MLO", "R"), ("CC", "R"), ("MLO", "L"))):
        path = root / f"m{seed}.dcm"
        result = CliRunner().invoke(
            synth,
            [
                "mammogram",
                str(path),
                "--rows",
                "1024",
                "--cols",
                "832",
                "--seed",
                str(seed),
                "--view",
                view,
                "--laterality",
                side,
            ],
            catch_exceptions=False,
        )
        assert result.exit_code == 0, result.output
        paths.append(path)
    return paths


@pytest.fixture
def make_node(tmp_path, small_bundle):
    started: list[Node] = []

    def make(dest_port: int, *, echo_tls=None, **overrides) -> Node:
        """A node forwarding to ``dest_port``; ``echo_tls``: the client context its C-ECHO probe needs."""
        defaults = {"model": small_bundle, "spool": tmp_path / "spool", "out": tmp_path / "out"}
        config = ServeConfig(
            port=free_port(),
            dest=f"PACS@127.0.0.1:{dest_port}",
            max_backoff=0.5,
            **{**defaults, "allow": TEST_ALLOW, **overrides},
        )
        node = Node(config, echo_tls=echo_tls).start()
        started.append(node)
        return node

    yield make
    for node in started:
        node.stop.set()
        node.thread.join(timeout=60)
