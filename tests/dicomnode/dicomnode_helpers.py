"""Helpers for the DICOM node tests, imported as ``dicomnode_helpers``: ports, tools, Orthanc's REST API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, evt
from pynetdicom.sop_class import (
    CTImageStorage,
    DigitalMammographyXRayImageStorageForPresentation,
    Verification,
)

from microcalc.dicomnode.cli import serve
from microcalc.dicomnode.config import ServeConfig
from microcalc.report_sr.codes import MAMMOGRAPHY_CAD_SR_STORAGE, SECONDARY_CAPTURE_STORAGE

# the in-process node's callers: the tests' modality and C-ECHO probe, on loopback
TEST_ALLOW = ("MODALITY@127.0.0.1", "SCU@127.0.0.1")

MAMMOGRAPHY_CAD_SR = "1.2.840.10008.5.1.4.1.1.88.50"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} not found (Debian package {package}; .ci/run installs it when run as root)")
    return path


@dataclass
class Orthanc:
    """A running Orthanc: its DICOM address and its REST API."""

    aet: str
    dicom_port: int
    http_port: int
    process: subprocess.Popen

    def get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as r:
            data = r.read()
        return json.loads(data) if path.split("?")[0].rsplit("/", 1)[-1] != "file" else data

    def srs_by_study(self) -> dict[str, list[pydicom.Dataset]]:
        """StudyInstanceUID -> the Mammography CAD SRs Orthanc holds in that study."""
        out: dict[str, list[pydicom.Dataset]] = {}
        for study in self.get("/studies?expand"):
            uid = study["MainDicomTags"]["StudyInstanceUID"]
            out.setdefault(uid, [])
            for instance in self.get(f"/studies/{study['ID']}/instances"):
                ds = pydicom.dcmread(BytesIO(self.get(f"/instances/{instance['ID']}/file")))
                if ds.SOPClassUID == MAMMOGRAPHY_CAD_SR:
                    out[uid].append(ds)
        return out

    def instance_count(self) -> int:
        return int(self.get("/statistics")["CountInstances"])


def clone_with_new_study(source: Path, target: Path) -> Path:
    """A copy of a mammogram in a study, series and instance of its own (new UIDs, same pixels)."""
    ds = pydicom.dcmread(source)
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.save_as(target, enforce_file_format=True)
    return target


class FakePacs:
    """A C-STORE SCP that keeps every dataset it receives."""

    def __init__(self, port: int) -> None:
        self.port, self.received, self.server = port, [], None

    def start(self) -> FakePacs:
        ae = AE(ae_title="PACS")
        for sop_class in (MAMMOGRAPHY_CAD_SR_STORAGE, SECONDARY_CAPTURE_STORAGE):
            ae.add_supported_context(sop_class, ALL_TRANSFER_SYNTAXES)

        def store(event):
            self.received.append(event.dataset)
            return 0x0000

        self.server = ae.start_server(
            ("127.0.0.1", self.port), block=False, evt_handlers=[(evt.EVT_C_STORE, store)]
        )
        return self

    def stop(self) -> None:
        self.server.shutdown()


class Node:
    """mc-serve's serve() in a thread, stopped like SIGTERM stops it (the stop event)."""

    def __init__(self, config: ServeConfig, *, echo_tls=None) -> None:
        self.config, self.stop, self.echo_tls = config, threading.Event(), echo_tls
        self.status: list[int] = []
        self.thread = threading.Thread(target=lambda: self.status.append(serve(config, stop=self.stop)))

    def start(self) -> Node:
        self.thread.start()
        wait_for(
            lambda: echo(self.config.port, tls=self.echo_tls) == 0x0000, what="mc-serve to answer C-ECHO"
        )
        return self

    def shutdown(self) -> int:
        self.stop.set()
        self.thread.join(timeout=60)
        assert not self.thread.is_alive(), "mc-serve did not stop"
        return self.status[0]


def wait_for(check, *, what: str, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def echo(port: int, *, tls=None, calling: str = "SCU", called: str = "MICROCALC") -> int | None:
    """C-ECHO status, or ``None`` when no association (``tls``: a client ssl context)."""
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    tls_args = (tls, "127.0.0.1") if tls is not None else None
    assoc = ae.associate("127.0.0.1", port, ae_title=called, tls_args=tls_args)
    if not assoc.is_established:
        return None
    status = assoc.send_c_echo()
    assoc.release()
    return status.Status if status else None


def send(port: int, paths: list[Path]) -> list[int]:
    """C-STORE each file; returns the status of each (``None``: no answer, the association was lost)."""
    ae = AE(ae_title="MODALITY")
    for sop_class in (DigitalMammographyXRayImageStorageForPresentation, CTImageStorage):
        ae.add_requested_context(sop_class)
    assoc = ae.associate("127.0.0.1", port, ae_title="MICROCALC")
    assert assoc.is_established
    statuses = [getattr(assoc.send_c_store(pydicom.dcmread(p)), "Status", None) for p in paths]
    if assoc.is_established:
        assoc.release()
    return statuses


def serve_load_module():
    """benchmarks/serve_load.py (the load generator and the misbehaving peers), imported by path."""
    import importlib.util
    import sys

    name = "serve_load"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).resolve().parents[2] / "benchmarks" / f"{name}.py"
        )
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
