"""The CAD SR's content is pinned: a fixed source header and scan give the same SR, element for element.

``cad_sr_golden.json`` was written by the SR writer before it took typed findings and highdicom's
public ``ComprehensiveSR`` (re-tagged as Mammography CAD SR); only the instance's creation and
content date and time (the clock) are left out of the comparison. Rewrite it with
``MC_WRITE_GOLDEN=1`` only for an intended change of the SR, and say so in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydicom.dataset import Dataset

from microcalc import __version__

pytest.importorskip("highdicom", reason='highdicom is not installed: pip install "microcalc[dicom]"')

GOLDEN = Path(__file__).with_name("cad_sr_golden.json")
# creation, content and contribution date/time, at any depth; highdicom's own Contributing
# Equipment record (its version)
CLOCK = {"00080012", "00080013", "00080023", "00080033", "0040A032", "0018A002", "0018A001"}


def source_header() -> Dataset:
    """A fixed Digital Mammography header (what the isolated reader passes on for the SR)."""
    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.1001"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1002"
    ds.SeriesInstanceUID = "1.2.826.0.1.3680043.8.498.1003"
    ds.Modality = "MG"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "PID-4242", "19600101"
    ds.StudyDate, ds.StudyTime = "20260102", "101500"
    ds.ImageLaterality, ds.ViewPosition, ds.PatientOrientation = "R", "MLO", ["A", "FR"]
    ds.ImagerPixelSpacing = [0.1, 0.1]
    return ds


def subject():
    """A fixed scan as the SR takes it (what ``ScanReport.sr_subject`` gives for such a report)."""
    from microcalc.report_sr.content import SRFinding, SRSubject
    from microcalc.report_sr.document import algorithm_identification, operating_point_words

    point = operating_point_words(
        {"name": "youden", "threshold": 0.4, "level": "tile", "criterion": "max Youden J"}
    )
    return SRSubject(
        sop_instance_uid="1.2.826.0.1.3680043.8.498.1001",
        model_sha256="ab" * 32,
        operating_point=point,
        findings=(
            SRFinding(centre=(200.0, 300.0), box=(150.0, 250.0, 250.0, 350.0), score=0.91),
            SRFinding(centre=(42.0, 52.0), box=(10.0, 20.0, 74.0, 84.0), score=0.55),
        ),
        algorithm=algorithm_identification(
            model_sha256="ab" * 32,
            operating_point=point,
            threshold=0.4,
            model="smallcnn fp32 on onnxruntime fp32",
        ),
    )


def _drop_clock(node: object) -> object:
    if isinstance(node, dict):
        return {k: _drop_clock(v) for k, v in node.items() if k not in CLOCK}
    return [_drop_clock(v) for v in node] if isinstance(node, list) else node


def _content(ds: Dataset) -> dict:
    """The dataset as DICOM JSON (nested values as text), without the clock's elements."""
    text = json.dumps(ds.to_json_dict(), default=str).replace(json.dumps(__version__)[1:-1], "VERSION")
    return _drop_clock(json.loads(text))


def test_sr_content_is_unchanged():
    from microcalc.report_sr.document import build_cad_sr

    document = build_cad_sr(source_header(), subject(), path="right_mlo.dcm")
    content = _content(document)
    if os.environ.get("MC_WRITE_GOLDEN"):
        GOLDEN.write_text(json.dumps(content, indent=1, sort_keys=True) + "\n")
    assert content == json.loads(GOLDEN.read_text())


def test_the_sr_writer_uses_highdicom_public_api_only():
    """No ``hd.<...>._Private`` access in the SR writer (the SOP class is set on the public SR)."""
    import re

    root = Path(__file__).resolve().parents[2] / "microcalc" / "report_sr"
    private = [
        f"{p.name}: {m.group(0)}"
        for p in root.glob("*.py")
        for m in re.finditer(r"\bhd(\.\w+)*\._\w+", p.read_text())
    ]
    assert private == []
