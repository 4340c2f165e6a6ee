"""DICOM TLS both ways: DCMTK's storescu +tls as the modality, Orthanc with DICOM TLS as the PACS.

Certificates are made at test time (dicomnode_pki, openssl). The node requires client
certificates from the test CA; it sends its SRs to an Orthanc that speaks TLS only and requires
the node's certificate in turn.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time

import pydicom
import pytest
from dicomnode_helpers import clone_with_new_study, echo, need, wait_for
from dicomnode_pki import make_pki

from microcalc.dicomnode.tls import client_context

pytestmark = pytest.mark.xdist_group("orthanc")


def _storescu(port: int, path, *tls: str) -> subprocess.CompletedProcess:
    command = [
        need("storescu", "dcmtk"),
        *tls,
        "-aet",
        "MODALITY",
        "-aec",
        "MICROCALC",
        "127.0.0.1",
        str(port),
    ]
    return subprocess.run([*command, str(path)], check=False, capture_output=True, text=True, timeout=120)


@pytest.fixture
def pki(tmp_path):
    return make_pki(tmp_path / "pki")


def test_mutual_tls_from_storescu_through_the_node_to_a_tls_orthanc(
    tmp_path, pki, mammograms, start_orthanc, make_node
):
    orthanc = start_orthanc(
        DicomTlsEnabled=True,
        DicomTlsCertificate=str(pki.pacs.cert),
        DicomTlsPrivateKey=str(pki.pacs.key),
        DicomTlsTrustedCertificates=str(pki.ca),
        DicomTlsRemoteCertificateRequired=True,
    )
    audit = tmp_path / "audit.jsonl"
    probe = client_context(ca=pki.ca, cert=pki.modality.cert, key=pki.modality.key)
    node = make_node(
        orthanc.dicom_port,
        tls_cert=pki.node.cert,
        tls_key=pki.node.key,
        tls_ca=pki.ca,
        dest_tls_ca=pki.ca,
        acse_timeout=3.0,
        audit_log=audit,
        echo_tls=probe,
    )
    port = node.config.port
    images = [clone_with_new_study(mammograms[k], tmp_path / f"img{k}.dcm") for k in range(4)]
    silent = socket.create_connection(("127.0.0.1", port))  # never sends a ClientHello

    with_cert = _storescu(
        port, images[0], "+tls", str(pki.modality.key), str(pki.modality.cert), "+cf", str(pki.ca)
    )
    assert with_cert.returncode == 0, with_cert.stdout + with_cert.stderr  # the silent peer blocks no one
    without_cert = _storescu(port, images[1], "+tla", "+cf", str(pki.ca))  # TLS, no client certificate
    other_ca = _storescu(
        port, images[2], "+tls", str(pki.stranger.key), str(pki.stranger.cert), "+cf", str(pki.ca)
    )
    plain = _storescu(port, images[3])  # plain TCP to a TLS-only node
    for refused in (without_cert, other_ca, plain):
        assert refused.returncode != 0 and "Association Request Failed" in refused.stdout + refused.stderr
    assert echo(port) is None  # pynetdicom without TLS: no association either
    silent.settimeout(15)
    assert silent.recv(1) == b""  # dropped after the handshake time limit (3 s)
    silent.close()

    wait_for(lambda: orthanc.instance_count() >= 1, what="the SR in the TLS Orthanc", timeout=180)
    time.sleep(1.0)
    assert node.shutdown() == 0
    srs = [sr for found in orthanc.srs_by_study().values() for sr in found]
    image_uid = pydicom.dcmread(images[0]).SOPInstanceUID
    evidence = srs[0].CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0]
    assert len(srs) == 1 and evidence.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == image_uid
    assert sorted(p.name for p in (node.config.spool / "sent").iterdir()) == [image_uid]

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    accepted = [r for r in records if r["event"] == "association" and r["outcome"] == "accepted"]
    assert {r["tls"] for r in accepted} <= {"TLSv1.2", "TLSv1.3"} and len(accepted) >= 2  # probe + storescu
    failed = [r["reason"] for r in records if r["event"] == "association" and r["outcome"] == "rejected"]
    assert sum("TLS handshake" in reason for reason in failed) >= 4  # no cert, other CA, plain, silent


def test_tls_settings_are_checked_before_start(tmp_path, pki):
    from microcalc.dicomnode.config import ServeConfig
    from microcalc.dicomnode.scp import open_gate
    from microcalc.errors import MicrocalcError

    base = {"port": 104, "dest": "P@h:1", "spool": tmp_path, "out": tmp_path, "allow_any": True}
    with pytest.raises(MicrocalcError, match="go together"):
        ServeConfig(**base, tls_cert=pki.node.cert)
    with pytest.raises(MicrocalcError, match="cannot load the TLS certificate"):
        open_gate(ServeConfig(**base, tls_cert=pki.node.cert, tls_key=pki.pacs.key))  # key of another cert
    context = open_gate(ServeConfig(**base, tls_cert=pki.node.cert, tls_key=pki.node.key)).tls
    assert context.minimum_version.name == "TLSv1_2"
