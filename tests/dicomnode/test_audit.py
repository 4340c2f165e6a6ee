"""The audit trail: JSON lines, and DICOM audit messages (PS3.15 A.5) over RFC 5424 syslog (UDP)."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET

from microcalc.dicomnode.audit import Audit


def test_audit_lines_and_syslog_messages(tmp_path):
    repository = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a local audit record repository
    repository.bind(("127.0.0.1", 0))
    repository.settimeout(5)
    path = tmp_path / "audit.jsonl"
    audit = Audit(source="MICROCALC", path=path, syslog=f"127.0.0.1:{repository.getsockname()[1]}")
    audit.association(
        calling="ROGUE ", called="MICROCALC", peer="10.0.0.9:4000", tls=None, reason="not allowed"
    )
    audit.association(calling="MODALITY", called="MICROCALC", peer="10.0.0.7:4001", tls="TLSv1.3")
    uids = {
        "sop_instance_uid": "1.2.3.4",
        "sop_class_uid": "1.2.840.10008.5.1.4.1.1.1.2",
        "study_uid": "1.2.3",
    }
    audit.instance(
        calling="MODALITY", peer="10.0.0.7:4001", status=0xA700, outcome="out_of_resources", **uids
    )
    audit.instance(calling="MODALITY", peer="10.0.0.7:4001", status=0x0000, outcome="stored", **uids)
    audit.close()

    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["event"], r["outcome"]) for r in records] == [
        ("association", "rejected"),
        ("association", "accepted"),
        ("instance", "out_of_resources"),
        ("instance", "stored"),
    ]
    assert records[0]["calling_ae"] == "ROGUE" and records[0]["reason"] == "not allowed"
    assert records[1]["tls"] == "TLSv1.3" and records[3]["status"] == "0x0000"

    # only the refusal and the stored instance are audit events for the repository
    frames = [repository.recv(65536) for _ in range(2)]
    repository.close()
    events = []
    for frame in frames:
        header, _, message = frame.partition(b" - \xef\xbb\xbf")
        fields = header.decode().split(" ")
        assert fields[0] in ("<84>1", "<85>1") and fields[4:] == [fields[4], "DICOM+RFC3881"]
        root = ET.fromstring(message)
        assert root.tag == "AuditMessage"
        events.append(root.find("EventIdentification/EventID").get("csd-code"))
        assert root.find("AuditSourceIdentification").get("AuditSourceID") == "MICROCALC"
        assert b"Patient" not in message  # no patient participant: never patient identity
    assert events == ["110113", "110104"]  # Security Alert, DICOM Instances Transferred
    transferred = ET.fromstring(frames[1].partition(b"\xef\xbb\xbf")[2])
    assert (
        transferred.find(
            "ParticipantObjectIdentification/ParticipantObjectDescription/SOPClass/Instance"
        ).get("UID")
        == "1.2.3.4"
    )
