"""Load test of mc-serve: N concurrent storescu associations, a hung peer and one that disconnects.

Run as a script against a running mc-serve and Orthanc (it starts neither)::

    python benchmarks/serve_load.py --port 11112 --pid MC_SERVE_PID --orthanc-http 8042 \\
        --images DIR --associations 8      # benchmarks/serve_load.sh starts both and runs this

It splits the images of DIR over ``--associations`` storescu processes (calling AE MODALITY),
and while they run opens one association that sends half a dataset and then says nothing (a hung
peer) and one that sends half a dataset and closes its socket. It samples mc-serve's resident
memory (VmRSS of ``--pid``) every half second, waits until Orthanc holds one SR per acknowledged
image, and prints images/s and the RSS figures as one JSON object. tests/dicomnode/test_orthanc.py
runs a small version of it (2 x 10) with the test's Orthanc and node (test_small_load_...).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from io import BytesIO
from pathlib import Path

_SENT = re.compile(r"Sending file: (?P<path>\S+)")
_RESPONSE = re.compile(r"Received Store Response \((?P<status>[^)]*)\)")


def partial_store(port: int, path: Path, *, then: str, calling: str = "MODALITY", called: str = "MICROCALC"):
    """Associate, send a C-STORE's command and half its dataset; ``then`` 'hang' (return the open
    association, which the caller kills) or 'close' (shut the socket down at once)."""
    import pydicom
    from pynetdicom import AE
    from pynetdicom.dimse_messages import C_STORE_RQ
    from pynetdicom.dimse_primitives import C_STORE
    from pynetdicom.dsutils import encode

    ds = pydicom.dcmread(path)
    syntax = ds.file_meta.TransferSyntaxUID
    ae = AE(ae_title=calling)
    ae.add_requested_context(ds.SOPClassUID, syntax)
    assoc = ae.associate("127.0.0.1", port, ae_title=called)
    if not assoc.is_established:
        raise RuntimeError(f"partial_store: no association with 127.0.0.1:{port}")
    primitive = C_STORE()
    primitive.MessageID, primitive.AffectedSOPClassUID = 1, ds.SOPClassUID
    primitive.AffectedSOPInstanceUID, primitive.Priority = ds.SOPInstanceUID, 2
    primitive.DataSet = BytesIO(encode(ds, syntax.is_implicit_VR, syntax.is_little_endian))
    message = C_STORE_RQ()
    message.primitive_to_message(primitive)
    context = assoc.accepted_contexts[0].context_id
    pdus = list(message.encode_msg(context, assoc.acceptor.maximum_length or 16382))
    for pdu in pdus[: max(2, len(pdus) // 2)]:  # the command and half the dataset's fragments
        assoc.dul.send_pdu(pdu)
    time.sleep(0.5)  # let the DUL thread put them on the wire
    if then == "close":
        assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
        assoc.kill()
        return None
    return assoc


def rss_kib(pid: int) -> int:
    """Resident memory of one process in KiB (VmRSS; its children not counted)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class RssSampler:
    """Samples a process's resident memory every ``period_s`` in a thread until :meth:`stop`."""

    def __init__(self, pid: int, period_s: float = 0.5) -> None:
        self.pid, self.period_s, self.kib = pid, period_s, []
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.is_set():
            self.kib.append(rss_kib(self.pid))
            self._done.wait(self.period_s)

    def stop(self) -> list[int]:
        self._done.set()
        self._thread.join()
        return self.kib


@dataclass
class LoadResult:
    images: int
    acknowledged: list[str] = field(default_factory=list)  # files storescu heard Success for
    refused: list[str] = field(default_factory=list)
    send_s: float = 0.0


def storescu_load(port: int, files: list[Path], *, associations: int, misbehave: bool = True) -> LoadResult:
    """Send ``files`` over ``associations`` concurrent storescu; return what each file got."""
    storescu = shutil.which("storescu")
    if storescu is None:
        raise RuntimeError("storescu not found (Debian package dcmtk)")
    result = LoadResult(images=len(files))
    start = time.monotonic()
    command = [storescu, "-v", "-aet", "MODALITY", "-aec", "MICROCALC", "127.0.0.1", str(port)]
    senders = [
        subprocess.Popen(
            [*command, *map(str, files[k::associations])], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for k in range(associations)
    ]
    hung = None
    if misbehave:
        time.sleep(1.0)
        try:
            hung = partial_store(port, files[0], then="hang")
            partial_store(port, files[-1], then="close")
        except RuntimeError as exc:  # e.g. refused past --max-associations: the senders still finish
            print(f"serve_load: {exc}", file=sys.stderr)
    for sender in senders:
        output = sender.communicate()[0].decode(errors="replace")
        current = None
        for line in output.splitlines():
            if (m := _SENT.search(line)) is not None:
                current = m["path"]
            elif (m := _RESPONSE.search(line)) is not None and current is not None:
                (result.acknowledged if m["status"] == "Success" else result.refused).append(current)
                current = None
    result.send_s = time.monotonic() - start
    if hung is not None:
        hung.kill()
    return result


def orthanc_counts(http_port: int) -> tuple[int, int]:
    """(instances, studies) in Orthanc: one SR per image means as many of each as images."""
    with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/statistics", timeout=10) as r:
        stats = json.loads(r.read())
    return int(stats["CountInstances"]), int(stats["CountStudies"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True, help="mc-serve's DICOM port")
    parser.add_argument("--pid", type=int, required=True, help="mc-serve's process id (RSS sampling)")
    parser.add_argument(
        "--orthanc-http", type=int, required=True, help="Orthanc's HTTP port (empty at start)"
    )
    parser.add_argument(
        "--images", type=Path, required=True, help="folder of *.dcm mammograms, one study each"
    )
    parser.add_argument("--associations", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for the SRs")
    args = parser.parse_args()
    files = sorted(args.images.glob("*.dcm"))
    sampler = RssSampler(args.pid)
    result = storescu_load(args.port, files, associations=args.associations)
    deadline = time.monotonic() + args.timeout
    start = time.monotonic() - result.send_s
    while orthanc_counts(args.orthanc_http)[0] < len(result.acknowledged) and time.monotonic() < deadline:
        time.sleep(1.0)
    total = time.monotonic() - start
    time.sleep(5.0)  # an SR sent twice would arrive now
    instances, studies = orthanc_counts(args.orthanc_http)
    rss = sampler.stop()
    tenth = max(1, len(rss) // 10)
    summary = {
        **{k: v for k, v in asdict(result).items() if k not in ("acknowledged", "refused")},
        "acknowledged": len(result.acknowledged),
        "refused": len(result.refused),
        "srs_in_orthanc": instances,
        "studies_with_an_sr": studies,
        "end_to_end_s": round(total, 1),
        "images_per_s": round(len(result.acknowledged) / total, 3),
        "rss_samples": len(rss),
        "rss_mib_first_min_max_last": [round(x / 1024, 1) for x in (rss[0], min(rss), max(rss), rss[-1])],
        # flat: the peak of the last tenth of the run against the peak of its second tenth (model warm)
        "rss_mib_peak_2nd_tenth_vs_last_tenth": [
            round(max(rss[tenth : 2 * tenth]) / 1024, 1),
            round(max(rss[-tenth:]) / 1024, 1),
        ],
    }
    print(json.dumps(summary))
    return 0 if instances == studies == len(result.acknowledged) == len(files) else 1


if __name__ == "__main__":
    sys.exit(main())
