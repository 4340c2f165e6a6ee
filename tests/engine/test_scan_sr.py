"""mc-scan --sr: the Mammography CAD SR of a scan, checked by dciodvfy, DCMTK's dsrdump and pydicom.

The known predictor (MeanBackend) puts one finding on the white spot of the phantom, so the SR's
coordinates can be compared with the JSON report exactly.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import phantom
from PIL import Image

from microcalc import scan_cli
from microcalc.errors import MissingDependencyError
from microcalc.report_sr.codes import MAMMOGRAPHY_CAD_SR_STORAGE
from microcalc.report_sr.document import algorithm_identification, operating_point_words

pytest.importorskip("highdicom", reason='highdicom is not installed: pip install "microcalc[dicom]"')


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} not found (Debian package {package}; .ci/run installs it when run as root)")
    return path


def scan_sr(tmp_path: Path, pixels, name: str = "right_mlo.dcm", extra: tuple[str, ...] = ()):
    image = write_dicom(tmp_path / name, pixels)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        scan_cli.cli,
        [str(image), "--model", str(tmp_path / "bundle"), "--out", str(out), "--sr", *extra],
        catch_exceptions=False,
    )
    return image, out, result


def items(node, code: str):
    """Content items under ``node`` (depth first) whose concept name has ``code``."""
    found = []
    for item in node.get("ContentSequence", []):
        if "ConceptNameCodeSequence" in item and item.ConceptNameCodeSequence[0].CodeValue == code:
            found.append(item)
        found += items(item, code)
    return found


def test_sr_of_a_finding_is_valid_and_matches_the_report(tmp_path, tiny_bundle, fake_backend):
    image, out, result = scan_sr(tmp_path, phantom(600, 500, spots=((300, 200),)))
    assert result.exit_code == 0, result.output
    report = json.loads((out / "right_mlo.json").read_text())
    sr_path = out / "right_mlo.sr.dcm"
    sr, source = pydicom.dcmread(sr_path), pydicom.dcmread(image, stop_before_pixels=True)

    # filed with the source's patient and study, in a new series and instance
    assert sr.SOPClassUID == MAMMOGRAPHY_CAD_SR_STORAGE and sr.Modality == "SR"
    assert (sr.PatientName, sr.PatientID, sr.StudyInstanceUID) == (
        source.PatientName,
        source.PatientID,
        source.StudyInstanceUID,
    )
    assert sr.SeriesInstanceUID != source.SeriesInstanceUID and sr.SOPInstanceUID != source.SOPInstanceUID
    evidence = (
        sr.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    )
    assert evidence.ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert "PixelData" not in sr and "ImageLaterality" not in sr  # nothing but patient and study copied

    # TID 4000 tree: root, library entry, summary with findings, one calcification cluster
    assert sr.ConceptNameCodeSequence[0].CodeValue == "111036"
    assert sr.ContentTemplateSequence[0].TemplateIdentifier == "4000"
    library_image = items(sr, "111028")[0].ContentSequence[0]
    assert library_image.ValueType == "IMAGE"
    assert library_image.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == source.SOPInstanceUID
    assert items(library_image, "111027")[0].ConceptCodeSequence[0].CodeValue == "24028007"  # Right
    assert items(library_image, "111031")[0].ConceptCodeSequence[0].CodeValue == "399368009"  # MLO
    assert items(sr, "111017")[0].ConceptCodeSequence[0].CodeValue == "111242"  # succeeded; with findings
    findings = items(sr, "111059")
    assert len(findings) == len(report["findings"]) == 1
    assert findings[0].ConceptCodeSequence[0].CodeValue == "129769006"  # Calcification Cluster

    # geometry in the original pixel grid, selected from the library image by reference
    expected = report["findings"][0]
    centre, outline = items(findings[0], "111010")[0], items(findings[0], "111041")[0]
    assert (centre.GraphicType, outline.GraphicType) == ("POINT", "POLYLINE")
    assert list(centre.GraphicData) == pytest.approx([expected["centre_px"]["x"], expected["centre_px"]["y"]])
    box = expected["bbox_px"]
    assert list(outline.GraphicData) == pytest.approx(
        [
            box["x0"],
            box["y0"],
            box["x1"],
            box["y0"],
            box["x1"],
            box["y1"],
            box["x0"],
            box["y1"],
            box["x0"],
            box["y0"],
        ]
    )
    for scoord in (centre, outline):
        assert scoord.ContentSequence[0].RelationshipType == "SELECTED FROM"
        assert list(scoord.ContentSequence[0].ReferencedContentItemIdentifier) == [1, 2, 1]
    certainty = items(findings[0], "111012")[0].MeasuredValueSequence[0].NumericValue
    assert float(certainty) == pytest.approx(100 * expected["score"], abs=0.01)
    parameters = [i.TextValue for i in items(findings[0], "111002")]
    assert f"model sha256 {report['model_sha256']}" in parameters
    assert any(p.startswith("operating point ") for p in parameters)

    # the JSON report and the console stay free of patient identity
    text = json.dumps(report) + result.output
    for identity in ("Doe", "PID-4242", "19600101"):
        assert identity not in text


def test_sr_passes_dciodvfy_and_dsrdump(tmp_path, tiny_bundle, fake_backend):
    dciodvfy, dsrdump = tool("dciodvfy", "dicom3tools"), tool("dsrdump", "dcmtk")
    _, out, result = scan_sr(tmp_path, phantom(600, 500, spots=((300, 200),)))
    assert result.exit_code == 0, result.output
    sr = out / "right_mlo.sr.dcm"
    check = subprocess.run([dciodvfy, str(sr)], capture_output=True, text=True, check=False)
    lines = (check.stdout + check.stderr).splitlines()
    assert "MammographyCADSR" in [line.strip() for line in lines], lines  # the IOD dciodvfy recognised
    assert not [line for line in lines if line.startswith("Error")], lines
    dump = subprocess.run([dsrdump, "-v", str(sr)], capture_output=True, text=True, check=False)
    assert dump.returncode == 0, dump.stderr
    assert not [line for line in dump.stderr.splitlines() if line.startswith("E:")], dump.stderr
    assert "Mammography CAD SR Document" in dump.stdout
    assert "Calcification Cluster" in dump.stdout and "<selected from 1.2.1>" in dump.stdout


def test_sr_without_findings(tmp_path, tiny_bundle, fake_backend):
    # no tile reaches 0.99 with the known predictor (the spot's tiles score about 0.14)
    _, out, result = scan_sr(tmp_path, phantom(600, 500), name="clear.dcm", extra=("--threshold", "0.99"))
    assert result.exit_code == 0, result.output
    sr = pydicom.dcmread(out / "clear.sr.dcm")
    assert items(sr, "111017")[0].ConceptCodeSequence[0].CodeValue == "111241"  # succeeded; without findings
    assert items(sr, "111034") == [] and items(sr, "111059") == []
    assert items(sr, "111064")[0].ConceptCodeSequence[0].CodeValue == "111222"  # detections succeeded


def test_same_scan_same_sr_instance(tmp_path, tiny_bundle, fake_backend):
    """A re-scan of the same image with the same model gives the same SR UIDs: a PACS keeps one report."""
    pixels = phantom(600, 500, spots=((300, 200),))
    image, out, first = scan_sr(tmp_path, pixels)
    uid = pydicom.dcmread(out / "right_mlo.sr.dcm").SOPInstanceUID
    again = CliRunner().invoke(
        scan_cli.cli,
        [str(image), "--model", str(tmp_path / "bundle"), "--out", str(tmp_path / "again"), "--sr"],
        catch_exceptions=False,
    )
    assert first.exit_code == again.exit_code == 0
    assert pydicom.dcmread(tmp_path / "again" / "right_mlo.sr.dcm").SOPInstanceUID == uid
    _, out2, _ = scan_sr(tmp_path, pixels, name="other.dcm")  # another image (new SOP Instance UID)
    assert pydicom.dcmread(out2 / "other.sr.dcm").SOPInstanceUID != uid


def test_sr_of_a_png_is_one_line_and_leaves_no_file(tmp_path, tiny_bundle, fake_backend):
    png = tmp_path / "plain.png"
    Image.fromarray(phantom(600, 500)).save(png)
    result = CliRunner().invoke(
        scan_cli.cli,
        [str(png), "--model", str(tmp_path / "bundle"), "--out", str(tmp_path / "out"), "--sr"],
        catch_exceptions=False,
    )
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if "error" in line]
    assert len(errors) == 1 and "plain.png: a CAD SR needs a DICOM image" in errors[0]
    assert not list((tmp_path / "out").glob("*.dcm")) and not list((tmp_path / "out").glob(".*"))


def test_missing_highdicom_names_the_extra(tmp_path, tiny_bundle, fake_backend, monkeypatch):
    monkeypatch.setitem(sys.modules, "highdicom", None)  # import fails as if not installed
    image = write_dicom(tmp_path / "x.dcm", phantom(600, 500))
    with pytest.raises(MissingDependencyError, match=r'pip install "microcalc\[dicom\]"'):
        CliRunner().invoke(
            scan_cli.cli, [str(image), "--model", str(tmp_path / "bundle"), "--sr"], catch_exceptions=False
        )


@pytest.mark.parametrize(
    "point, expected",
    [
        # a named point chosen for an image-level criterion (mc-scan --operating-point)
        (
            {
                "name": "fp0.25",
                "threshold": 0.43,
                "level": "image",
                "criterion": "0.25 false positives per image",
            },
            "operating point fp0.25 (image level: 0.25 false positives per image)",
        ),
        (
            {"name": None, "threshold": 0.5, "source": "--threshold given by the user"},  # a bare threshold
            "operating point none (fixed threshold)",
        ),
        (None, "operating point none (fixed threshold)"),  # reports written before operating points existed
    ],
)
def test_the_sr_names_the_operating_point(point, expected):
    words = operating_point_words(point)
    parameters = algorithm_identification(
        model_sha256="ab" * 32, operating_point=words, threshold=0.43, model=None
    ).parameters
    assert parameters[1] == expected and parameters[2] == "threshold 0.43"
