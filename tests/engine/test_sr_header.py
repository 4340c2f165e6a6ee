"""The SR step reads the header the isolated reader parsed: the main process never opens the input."""

from __future__ import annotations

import pydicom
import pytest
from click.testing import CliRunner
from dicom_files import write_dicom
from engine_fakes import phantom

from microcalc import scan_cli
from microcalc.imaging.header import evidence_header
from microcalc.imaging.reader import read_mammogram

pytest.importorskip("highdicom", reason='highdicom is not installed: pip install "microcalc[dicom]"')


def test_the_reader_returns_the_header_without_pixels(tmp_path):
    path = write_dicom(tmp_path / "a.dcm", phantom(300, 200, spots=()))
    image = read_mammogram(path)
    header = image.header
    assert header.SOPInstanceUID == image.meta.sop_instance_uid and header.PatientID == "PID-4242"
    assert "PixelData" not in header and header.file_meta.TransferSyntaxUID
    assert header == evidence_header(pydicom.dcmread(path, stop_before_pixels=True))


def test_sr_is_written_without_opening_the_input_in_this_process(
    tmp_path, tiny_bundle, fake_backend, monkeypatch
):
    """``pydicom.dcmread`` refuses in this process; the decoder process reads the file; the SR is written."""
    image = write_dicom(tmp_path / "right_mlo.dcm", phantom(600, 500, spots=((300, 200),)))

    def refuse(*args, **kwargs):
        raise AssertionError(f"the main process parsed {args[0]}")

    monkeypatch.setattr(pydicom, "dcmread", refuse)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        scan_cli.cli,
        [
            str(image),
            "--model",
            str(tmp_path / "bundle"),
            "--out",
            str(out),
            "--sr",
            "--isolation",
            "process",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    monkeypatch.undo()
    sr = pydicom.dcmread(out / "right_mlo.sr.dcm")
    source = pydicom.dcmread(image, stop_before_pixels=True)
    assert (sr.PatientID, sr.StudyInstanceUID) == (source.PatientID, source.StudyInstanceUID)
