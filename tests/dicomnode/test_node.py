"""mc-serve in-process against a small pynetdicom PACS: receive, refuse, forward, retry, resume.

The node runs the tests' small trained bundle; the "PACS" is a C-STORE SCP that keeps what it
receives, so each test can count SRs exactly. The real-PACS tests (Orthanc) are in test_orthanc.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path

import pydicom
from dicomnode_helpers import FakePacs, clone_with_new_study, free_port, need, send, wait_for
from pynetdicom.sop_class import CTImageStorage

from microcalc.report_sr.codes import MAMMOGRAPHY_CAD_SR_STORAGE, SECONDARY_CAPTURE_STORAGE
from tests.engine.engine_fakes import add_max_triage


def images(mammograms: list[Path], folder: Path, n: int) -> list[Path]:
    folder.mkdir(exist_ok=True)
    return [clone_with_new_study(mammograms[k % len(mammograms)], folder / f"img{k}.dcm") for k in range(n)]


def referenced_image(sr: pydicom.Dataset) -> str:
    return (
        sr.CurrentRequestedProcedureEvidenceSequence[0]
        .ReferencedSeriesSequence[0]
        .ReferencedSOPSequence[0]
        .ReferencedSOPInstanceUID
    )


def test_receives_mammograms_refuses_others_and_forwards_one_sr_each(tmp_path, mammograms, make_node, caplog):
    caplog.set_level("INFO", logger="mc-serve")
    pacs = FakePacs(free_port()).start()
    node = make_node(pacs.port)
    sent = images(mammograms, tmp_path / "in", 3)
    ct = pydicom.dcmread(sent[2])
    ct.Modality, ct.SOPClassUID = "CT", CTImageStorage
    ct.file_meta.MediaStorageSOPClassUID = CTImageStorage
    ct.save_as(sent[2], enforce_file_format=True)

    assert send(node.config.port, sent) == [0x0000, 0x0000, 0x0122]  # CT: refused, SOP class not supported
    wait_for(lambda: len(pacs.received) >= 2, what="two SRs at the PACS")
    assert node.shutdown() == 0
    pacs.stop()

    sources = {pydicom.dcmread(p).SOPInstanceUID: pydicom.dcmread(p) for p in sent[:2]}
    assert sorted(referenced_image(sr) for sr in pacs.received) == sorted(sources)
    for sr in pacs.received:
        source = sources[referenced_image(sr)]
        assert sr.SOPClassUID == MAMMOGRAPHY_CAD_SR_STORAGE and sr.StudyInstanceUID == source.StudyInstanceUID
        assert (node.config.out / f"{source.SOPInstanceUID}.json").is_file()
    spool = node.config.spool
    assert sorted(p.name for p in (spool / "sent").iterdir()) == sorted(sources)
    assert not list((spool / "incoming").iterdir()) and not list((spool / "outbox").iterdir())
    report = json.loads((node.config.out / f"{next(iter(sources))}.json").read_text())
    assert report["operating_point"]["threshold"] == report["settings"]["threshold"]  # the point the SR names
    log = caplog.text
    assert all(uid in log for uid in sources) and "refused" in log
    assert str(next(iter(sources.values())).PatientName) not in log  # UIDs only, no names


def test_retries_until_the_destination_is_up(tmp_path, mammograms, make_node):
    port = free_port()  # nothing listens here yet
    node = make_node(port)
    assert send(node.config.port, images(mammograms, tmp_path / "in", 1)) == [0x0000]
    wait_for(lambda: list((node.config.spool / "outbox").iterdir()), what="the SR to wait in the outbox")
    time.sleep(1.5)  # a few failed attempts with back-off
    pacs = FakePacs(port).start()
    wait_for(lambda: pacs.received, what="the SR to arrive once the PACS is up")
    assert node.shutdown() == 0
    pacs.stop()
    assert len(pacs.received) == 1


def test_restart_resumes_the_spool_and_never_reports_an_image_twice(tmp_path, mammograms, make_node):
    dest = free_port()
    first = make_node(dest)
    acknowledged = images(mammograms, tmp_path / "in", 2)
    assert send(first.config.port, acknowledged[:1]) == [0x0000]
    wait_for(lambda: list((first.config.spool / "outbox").iterdir()), what="an SR in the outbox")
    assert first.shutdown() == 0  # destination down: the SR stays in the outbox
    # an image acknowledged just before a crash, not yet scanned
    shutil.copy(
        acknowledged[1],
        first.config.spool / "incoming" / f"{pydicom.dcmread(acknowledged[1]).SOPInstanceUID}.dcm",
    )

    pacs = FakePacs(dest).start()
    second = make_node(dest)
    wait_for(lambda: len(pacs.received) >= 2, what="both SRs after the restart")
    assert send(second.config.port, acknowledged[:1]) == [0x0000]  # the modality sends an image again
    time.sleep(1.0)
    assert second.shutdown() == 0
    pacs.stop()
    uids = sorted(pydicom.dcmread(p).SOPInstanceUID for p in acknowledged)
    assert sorted(referenced_image(sr) for sr in pacs.received) == uids  # one SR each, none twice


def test_send_overview_adds_a_valid_secondary_capture_per_image(tmp_path, mammograms, make_node):
    pacs = FakePacs(free_port()).start()
    node = make_node(pacs.port, send_overview=True)
    sent = images(mammograms, tmp_path / "in", 2)
    assert send(node.config.port, sent) == [0x0000, 0x0000]
    wait_for(lambda: len(pacs.received) >= 4, what="an SR and an overview per image")
    assert node.shutdown() == 0
    pacs.stop()
    by_class: dict[str, list] = {}
    for ds in pacs.received:
        by_class.setdefault(ds.SOPClassUID, []).append(ds)
    assert len(by_class[MAMMOGRAPHY_CAD_SR_STORAGE]) == len(by_class[SECONDARY_CAPTURE_STORAGE]) == 2
    sources = {pydicom.dcmread(p, stop_before_pixels=True).StudyInstanceUID for p in sent}
    overviews = by_class[SECONDARY_CAPTURE_STORAGE]
    assert {sc.StudyInstanceUID for sc in overviews} == sources
    assert all(sc.PhotometricInterpretation == "RGB" and sc.SamplesPerPixel == 3 for sc in overviews)
    path = tmp_path / "overview.dcm"
    overviews[0].save_as(path, enforce_file_format=True)
    check = subprocess.run(
        [need("dciodvfy", "dicom3tools"), str(path)], capture_output=True, text=True, check=False
    )
    lines = (check.stdout + check.stderr).splitlines()
    assert "SCImage" in [line.strip() for line in lines] and not [
        x for x in lines if x.startswith("Error")
    ], lines


def test_an_image_that_cannot_be_scanned_moves_to_failed_and_the_node_goes_on(
    tmp_path, mammograms, make_node
):
    pacs = FakePacs(free_port()).start()
    node = make_node(pacs.port)
    bad, good = images(mammograms, tmp_path / "in", 2)
    ds = pydicom.dcmread(bad)
    ds.Rows = 64  # the header no longer matches the pixel data: the reader refuses it
    ds.save_as(bad, enforce_file_format=True)
    assert send(node.config.port, [bad, good]) == [0x0000, 0x0000]  # both acknowledged: both spooled
    wait_for(lambda: pacs.received, what="the good image's SR")
    assert node.shutdown() == 0
    pacs.stop()
    uid = ds.SOPInstanceUID
    reason = (node.config.spool / "failed" / f"{uid}.txt").read_text()
    assert (node.config.spool / "failed" / f"{uid}.dcm").is_file() and len(reason.splitlines()) == 1
    assert [referenced_image(sr) for sr in pacs.received] == [pydicom.dcmread(good).SOPInstanceUID]


def test_the_bundles_triage_runs_in_the_node_as_in_mc_scan(tmp_path, mammograms, small_bundle, make_node):
    """The bundle's triage model runs in the node (its report says how many tiles it ruled out) unless
    the config turns it off, as --no-triage does in mc-scan."""
    bundle = add_max_triage(shutil.copytree(small_bundle, tmp_path / "triaged"), threshold=0.999)
    pacs = FakePacs(free_port()).start()
    reports = []
    for triage in (None, False):
        node = make_node(
            pacs.port,
            model=bundle,
            triage=triage,
            spool=tmp_path / f"spool{triage}",
            out=tmp_path / f"out{triage}",
        )
        (image,) = images(mammograms, tmp_path / f"in{triage}", 1)
        assert send(node.config.port, [image]) == [0x0000]
        wait_for(partial(lambda n: len(pacs.received) > n, len(reports)), what="the SR")
        assert node.shutdown() == 0
        uid = pydicom.dcmread(image).SOPInstanceUID
        reports.append(json.loads((node.config.out / f"{uid}.json").read_text()))
    pacs.stop()
    on, off = reports
    assert on["triage"]["threshold"] == 0.999 and 0 < on["triage"]["tiles"]
    assert 0 <= on["triage"]["skipped"] <= on["triage"]["tiles"]
    assert off["triage"] is None
