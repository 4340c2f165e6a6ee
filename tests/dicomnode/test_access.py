"""Who may connect to mc-serve: the allow-list, our called AE title, secure by default, audited.

The policy's decisions are checked as a table; the node's behaviour against real peers (DCMTK's
storescu and pynetdicom bound to another loopback address) in process.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pydicom
import pytest
from dicomnode_helpers import FakePacs, clone_with_new_study, free_port, need, wait_for
from pynetdicom import AE
from pynetdicom.sop_class import Verification

from microcalc.dicomnode.access import AccessPolicy, parse_allow
from microcalc.dicomnode.config import ServeConfig
from microcalc.dicomnode.scp import open_gate
from microcalc.errors import MicrocalcError

POLICY = AccessPolicy.from_settings(
    ae_title="MICROCALC", allow=("CT1@10.0.0.7", "MG1@10.0.1.0/24", "MG2@localhost"), allow_any=False
)


@pytest.mark.parametrize(
    "calling, called, peer, diagnostic",
    [
        ("CT1", "MICROCALC", "10.0.0.7", None),  # listed, from its address
        ("CT1", "MICROCALC ", "10.0.0.7", None),  # AE titles are space-padded on the wire
        ("MG1", "MICROCALC", "10.0.1.200", None),  # inside its network
        ("MG1", "MICROCALC", "::ffff:10.0.1.3", None),  # IPv4-mapped IPv6 peer
        ("MG2", "MICROCALC", "127.0.0.1", None),  # host name resolved at start
        ("CT1", "MICROCALC", "10.0.0.8", 0x03),  # listed, from another address
        ("MG1", "MICROCALC", "10.0.2.1", 0x03),  # outside its network
        ("ROGUE", "MICROCALC", "10.0.0.7", 0x03),  # not listed
        ("CT1", "OTHERNODE", "10.0.0.7", 0x07),  # called AE title is not ours
    ],
)
def test_the_policy_admits_only_listed_titles_from_their_addresses(calling, called, peer, diagnostic):
    refusal = POLICY.check(calling=calling, called=called, peer=peer)
    assert (refusal and refusal.diagnostic) == diagnostic


@pytest.mark.parametrize(
    "allow, allow_any, message",
    [
        ((), False, "admits no one by default"),  # secure by default: no allow-list, no start
        (("A@1.2.3.4",), True, "exclude each other"),
        (("NOHOST",), False, "expected AE@HOST"),
        (("A@no-such-host.invalid",), False, "cannot resolve host"),
    ],
)
def test_bad_or_missing_allow_lists_refuse_to_start(tmp_path, allow, allow_any, message):
    config = ServeConfig(
        port=104, dest="P@h:1", spool=tmp_path, out=tmp_path, allow=allow, allow_any=allow_any
    )
    with pytest.raises(MicrocalcError, match=message):
        open_gate(config)


def test_mc_serve_without_an_allow_list_exits_with_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "microcalc.dicomnode.cli",
            "--port",
            "1104",
            "--dest",
            "P@127.0.0.1:1",
            "--spool",
            str(tmp_path / "s"),
        ]
        + ["--out", str(tmp_path / "o")],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "admits no one by default" in result.stderr and "--allow-any" in result.stderr


def test_parse_allow_keeps_the_title_and_host():
    entry = parse_allow("MODALITY@127.0.0.0/8")
    assert entry.ae_title == "MODALITY" and entry.host == "127.0.0.0/8"


def _associate(port: int, *, calling: str, called: str = "MICROCALC", source: str = "127.0.0.1"):
    ae = AE(ae_title=calling)
    ae.add_requested_context(Verification)
    return ae.associate("127.0.0.1", port, ae_title=called, bind_address=(source, 0))


def _storescu(port: int, path, *, calling: str, called: str = "MICROCALC") -> subprocess.CompletedProcess:
    command = [need("storescu", "dcmtk"), "-aet", calling, "-aec", called, "127.0.0.1", str(port), str(path)]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def test_only_the_allowed_ae_from_its_address_stores_the_rest_are_rejected_and_audited(
    tmp_path, mammograms, make_node, caplog
):
    caplog.set_level("INFO", logger="mc-serve")
    pacs = FakePacs(free_port()).start()
    audit = tmp_path / "audit.jsonl"
    node = make_node(pacs.port, audit_log=audit)
    port = node.config.port
    image = clone_with_new_study(mammograms[0], tmp_path / "image.dcm")

    intruder = _storescu(port, image, calling="INTRUDER")  # unknown calling AE
    assert intruder.returncode != 0
    assert "Calling AE Title Not Recognized" in intruder.stdout + intruder.stderr
    wrong_called = _storescu(port, image, calling="MODALITY", called="OTHERNODE")
    assert "Called AE Title Not Recognized" in wrong_called.stdout + wrong_called.stderr
    elsewhere = _associate(port, calling="MODALITY", source="127.0.0.2")  # known AE, another address
    assert elsewhere.is_rejected
    response = elsewhere.acceptor.primitive
    assert (response.result, response.result_source, response.diagnostic) == (0x01, 0x01, 0x03)
    assert not list((node.config.spool / "incoming").iterdir())  # nothing got in

    allowed = _storescu(port, image, calling="MODALITY")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    wait_for(lambda: pacs.received, what="the allowed image's SR")
    assert node.shutdown() == 0
    pacs.stop()

    records = [json.loads(line) for line in audit.read_text().splitlines()]
    associations = [r for r in records if r["event"] == "association"]
    rejected = {
        (r["calling_ae"], r["called_ae"], r["peer"].split(":")[0])
        for r in associations
        if r["outcome"] == "rejected"
    }
    assert rejected == {
        ("INTRUDER", "MICROCALC", "127.0.0.1"),
        ("MODALITY", "OTHERNODE", "127.0.0.1"),
        ("MODALITY", "MICROCALC", "127.0.0.2"),
    }
    assert all(r["reason"] and r["tls"] is None for r in associations if r["outcome"] == "rejected")
    assert any(r["calling_ae"] == "MODALITY" and r["outcome"] == "accepted" for r in associations)
    uid = pydicom.dcmread(image).SOPInstanceUID
    assert [
        (r["sop_instance_uid"], r["outcome"], r["status"]) for r in records if r["event"] == "instance"
    ] == [(uid, "stored", "0x0000")]
    assert "rejected an association from 127.0.0.2" in caplog.text
    source = pydicom.dcmread(image)
    for secret in (str(source.PatientName), str(source.PatientID)):
        assert secret not in audit.read_text() and secret not in caplog.text  # never patient identity


def test_allow_any_says_so_on_the_console(tmp_path, mammograms, make_node, caplog):
    caplog.set_level("INFO", logger="mc-serve")
    node = make_node(free_port(), allow=(), allow_any=True)
    assert _associate(node.config.port, calling="ANYONE").is_established
    assert node.shutdown() == 0
    assert "WARNING: --allow-any" in caplog.text and "ANY calling AE title" in caplog.text
