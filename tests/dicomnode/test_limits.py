"""Resource limits of mc-serve: the spool quota (0xA700, nothing acknowledged lost), timeouts that
free the slot of a silent or half-sending peer, the dataset size limit; never a partial file."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pydicom
import pytest
from dicomnode_helpers import (
    FakePacs,
    clone_with_new_study,
    echo,
    free_port,
    send,
    serve_load_module,
    wait_for,
)

serve_load = serve_load_module()


def spool_files(spool: Path) -> list[str]:
    """Every file in the spool, temporary ones included."""
    return sorted(str(Path(d, f).relative_to(spool)) for d, _, files in os.walk(spool) for f in files)


@pytest.mark.parametrize(
    "limit",
    [
        {"spool_max_mb": 4.5},  # the spool cap: a 3.5 MB filler leaves no room for a 1.7 MB image
        {"min_free_mb": 1e9},  # the free-disk floor is out of reach
    ],
)
def test_a_full_spool_answers_out_of_resources_and_the_retry_is_scanned_once_space_frees(
    tmp_path, mammograms, make_node, limit
):
    pacs = FakePacs(free_port()).start()
    audit = tmp_path / "audit.jsonl"
    filler = tmp_path / "spool" / "failed" / "filler.dcm"
    filler.parent.mkdir(parents=True)
    filler.write_bytes(b"\0" * (7 * 2**19))
    node = make_node(pacs.port, audit_log=audit, **limit)
    image, other = (clone_with_new_study(mammograms[k], tmp_path / f"img{k}.dcm") for k in range(2))
    uid = pydicom.dcmread(image).SOPInstanceUID

    assert send(node.config.port, [image]) == [0xA700]  # Out of Resources: the modality retries later
    assert spool_files(node.config.spool) == ["failed/filler.dcm"]  # the refused image is not kept
    if "min_free_mb" in limit:
        node.shutdown()
        node = make_node(pacs.port, audit_log=audit, spool=node.config.spool, out=node.config.out)
    filler.unlink()  # space frees
    assert send(node.config.port, [image, other]) == [0x0000, 0x0000]
    wait_for(lambda: len(pacs.received) >= 2, what="both SRs once space freed")
    time.sleep(0.5)
    assert node.shutdown() == 0
    pacs.stop()
    referenced = sorted(
        sr.CurrentRequestedProcedureEvidenceSequence[0]
        .ReferencedSeriesSequence[0]
        .ReferencedSOPSequence[0]
        .ReferencedSOPInstanceUID
        for sr in pacs.received
    )
    assert referenced == sorted([uid, pydicom.dcmread(other).SOPInstanceUID])  # one SR each, none lost
    outcomes = [
        (r["sop_instance_uid"], r["outcome"])
        for r in map(json.loads, audit.read_text().splitlines())
        if r["event"] == "instance"
    ]
    assert outcomes[0] == (uid, "out_of_resources") and (uid, "stored") in outcomes


def test_silent_and_half_sending_peers_free_their_slots_in_bounded_time_and_leave_no_file(
    tmp_path, mammograms, make_node
):
    pacs = FakePacs(free_port()).start()
    node = make_node(
        pacs.port,
        max_associations=2,
        acse_timeout=1.0,
        dimse_timeout=2.0,
        network_timeout=2.0,
        max_dataset_mb=1.0,
    )
    port, spool = node.config.port, node.config.spool
    image = clone_with_new_study(mammograms[0], tmp_path / "img.dcm")  # 1.7 MB: over the 1 MB dataset limit

    start = time.monotonic()
    silent = socket.create_connection(("127.0.0.1", port))  # opens, says nothing
    silent.settimeout(20)
    assert silent.recv(1) == b"" and time.monotonic() - start < 8  # dropped after the ACSE timeout
    silent.close()

    hung = [serve_load.partial_store(port, image, then="hang", calling="MODALITY") for _ in range(2)]
    assert echo(port) is None  # both slots taken: rejected (local limit exceeded)
    start = time.monotonic()
    wait_for(lambda: echo(port) == 0x0000, what="a slot to free", timeout=30)
    assert time.monotonic() - start < 15  # the network (idle) timeout aborted the hung peers
    for assoc in hung:
        assoc.kill()
    serve_load.partial_store(port, image, then="close", calling="MODALITY")  # disconnects mid-dataset
    time.sleep(1.0)
    assert spool_files(spool) == []  # no partial file from either

    assert send(port, [image]) == [None]  # over --max-dataset-mb: the association is aborted
    assert spool_files(spool) == []
    assert echo(port) == 0x0000  # and the node still serves
    assert node.shutdown() == 0
    pacs.stop()
