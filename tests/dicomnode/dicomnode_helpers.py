"""Helpers for the DICOM node tests, imported as ``dicomnode_helpers``: ports, tools, Orthanc's REST API."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.request
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import generate_uid

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
