"""mc-serve against a real PACS: Orthanc started by the test, images sent with DCMTK's storescu.

- integration: 12 mammograms in 12 studies -> each study ends with exactly one SR referencing its image;
- fault: SIGKILL in the middle of a batch, restart on the same spool -> every acknowledged image
  ends with exactly one SR;
- load: 100 images over 4 concurrent storescu associations -> nothing lost; prints images/s.

mc-serve runs as its own process (``python -m microcalc.dicomnode.cli``) on the tests' small
trained bundle. All three share one xdist group: they are heavy, and run one at a time.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pydicom
import pytest
from dicomnode_helpers import TEST_ALLOW, clone_with_new_study, echo, free_port, need, serve_load_module
from pynetdicom import AE
from pynetdicom.sop_class import DigitalMammographyXRayImageStorageForPresentation

pytestmark = pytest.mark.xdist_group("orthanc")
REPO = Path(__file__).resolve().parents[2]


class Serve:
    """mc-serve in a subprocess forwarding to Orthanc."""

    def __init__(
        self, tmp_path: Path, bundle: Path, orthanc, name: str = "serve", extra=(), echo_tls=None
    ) -> None:
        self.port, self.echo_tls = free_port(), echo_tls
        self.spool, self.out, self.log = tmp_path / "spool", tmp_path / "out", tmp_path / f"{name}.log"
        env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "microcalc.dicomnode.cli",
                    "--port",
                    str(self.port),
                    "--host",
                    "127.0.0.1",
                    "--ae-title",
                    "MICROCALC",
                    "--dest",
                    f"{orthanc.aet}@127.0.0.1:{orthanc.dicom_port}",
                    "--model",
                    str(bundle),
                    "--spool",
                    str(self.spool),
                    "--out",
                    str(self.out),
                    "--max-backoff",
                    "1",
                    *(f"--allow={entry}" for entry in TEST_ALLOW),
                    *extra,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 120
        while not self._echo():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.process.kill()
                pytest.fail(f"mc-serve did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.2)

    def _echo(self) -> bool:
        return echo(self.port, tls=self.echo_tls) == 0x0000

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=120)


@pytest.fixture
def start_serve(tmp_path, small_bundle, orthanc):
    """Start mc-serve processes forwarding to ``orthanc``; any still running after the test is killed."""
    started: list[Serve] = []

    def start(name: str = "serve", **kwargs) -> Serve:
        started.append(Serve(tmp_path, small_bundle, orthanc, name=name, **kwargs))
        return started[-1]

    yield start
    for serve in started:
        if serve.process.poll() is None:
            serve.process.kill()
            serve.process.wait()


def storescu(port: int, files: list[Path]) -> subprocess.Popen:
    return subprocess.Popen(
        [
            need("storescu", "dcmtk"),
            "-R",
            "-aet",
            "MODALITY",
            "-aec",
            "MICROCALC",
            "127.0.0.1",
            str(port),
            *map(str, files),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def studies_of(files: list[Path]) -> dict[str, str]:
    """StudyInstanceUID -> SOPInstanceUID of each file."""
    out = {}
    for f in files:
        ds = pydicom.dcmread(f, stop_before_pixels=True)
        out[ds.StudyInstanceUID] = ds.SOPInstanceUID
    return out


def wait_for_srs(orthanc, count: int, timeout: float = 600.0) -> float:
    deadline = time.monotonic() + timeout
    while orthanc.instance_count() < count:
        assert time.monotonic() < deadline, f"only {orthanc.instance_count()} of {count} SRs reached Orthanc"
        time.sleep(0.25)
    return time.monotonic()


def referenced(sr: pydicom.Dataset) -> str:
    return (
        sr.CurrentRequestedProcedureEvidenceSequence[0]
        .ReferencedSeriesSequence[0]
        .ReferencedSOPSequence[0]
        .ReferencedSOPInstanceUID
    )


def assert_one_sr_per_study(orthanc, expected: dict[str, str]) -> None:
    srs = orthanc.srs_by_study()
    for study, image in expected.items():
        assert len(srs.get(study, [])) == 1, f"study {study}: {len(srs.get(study, []))} SRs"
        assert referenced(srs[study][0]) == image
        library = srs[study][0].ContentSequence[1].ContentSequence[0]  # Image Library entry
        assert library.ReferencedSOPSequence[0].ReferencedSOPInstanceUID == image
    assert all(len(v) <= 1 for v in srs.values())


def make_images(mammograms: list[Path], folder: Path, n: int) -> list[Path]:
    folder.mkdir()
    return [
        clone_with_new_study(mammograms[k % len(mammograms)], folder / f"img{k:03d}.dcm") for k in range(n)
    ]


def test_storescu_to_mc_serve_to_orthanc(tmp_path, mammograms, orthanc, start_serve):
    need("storescu", "dcmtk")
    files = make_images(mammograms, tmp_path / "in", 12)
    serve = start_serve()
    sent = storescu(serve.port, files)
    output = sent.communicate(timeout=300)[0].decode(errors="replace")
    assert sent.returncode == 0, output
    wait_for_srs(orthanc, len(files))
    assert serve.terminate() == 0  # SIGTERM: clean shutdown
    assert_one_sr_per_study(orthanc, studies_of(files))
    log = serve.log.read_text()
    assert "stopped; 0 image(s) and 0 SR(s) stay spooled" in log
    assert "SYNTHETIC" not in log and "MICROCALC-SYNTH" not in log  # patient name and ID never logged
    assert len(list(serve.out.glob("*.json"))) == len(files)


def test_sigkill_mid_batch_then_restart_reports_every_acknowledged_image_once(
    tmp_path, mammograms, orthanc, start_serve
):
    files = make_images(mammograms, tmp_path / "in", 12)
    serve = start_serve("first")
    acknowledged: list[str] = []

    def modality() -> None:
        ae = AE(ae_title="MODALITY")
        ae.add_requested_context(DigitalMammographyXRayImageStorageForPresentation)
        assoc = ae.associate("127.0.0.1", serve.port, ae_title="MICROCALC")
        for f in files:
            ds = pydicom.dcmread(f)
            status = assoc.send_c_store(ds) if assoc.is_established else None
            if status is None or getattr(status, "Status", None) != 0x0000:
                return  # the node died: this image was not acknowledged
            acknowledged.append(ds.SOPInstanceUID)
        assoc.release()

    sender = threading.Thread(target=modality)
    sender.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 5 and sender.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    serve.process.send_signal(signal.SIGKILL)
    serve.process.wait(timeout=30)
    sender.join(timeout=60)
    assert 5 <= len(acknowledged) < len(files), "the kill did not land in the middle of the batch"
    sent_before = {p.name for p in (serve.spool / "sent").iterdir()}
    assert len(sent_before) < len(acknowledged), (
        "every acknowledged image was already reported before the kill"
    )

    restarted = start_serve("second")
    expected = {s: i for s, i in studies_of(files).items() if i in set(acknowledged)}
    wait_for_srs(orthanc, len(expected))
    time.sleep(2.0)  # anything sent twice would arrive now
    assert restarted.terminate() == 0
    assert_one_sr_per_study(orthanc, expected)
    log = restarted.log.read_text()
    assert "resumed" in log
    resent = {line.split(" for ")[1].split()[0] for line in log.splitlines() if " sent SR " in line}
    assert not resent & sent_before  # what was marked sent before the kill is never sent again
    assert set(acknowledged) <= resent | sent_before


@pytest.mark.slow
def test_load_100_images_over_4_associations(
    tmp_path, mammograms, orthanc, start_serve, capsys, record_property
):
    need("storescu", "dcmtk")
    files = make_images(mammograms, tmp_path / "in", 100)
    serve = start_serve()
    start = time.monotonic()
    senders = [storescu(serve.port, files[k::4]) for k in range(4)]
    for s in senders:
        output = s.communicate(timeout=600)[0].decode(errors="replace")
        assert s.returncode == 0, output
    received = time.monotonic()
    done = wait_for_srs(orthanc, len(files), timeout=900)
    assert serve.terminate() == 0
    assert_one_sr_per_study(orthanc, studies_of(files))
    assert len(list((serve.spool / "sent").iterdir())) == len(files)
    record_property("images_per_s", round(len(files) / (done - start), 3))  # in the JUnit XML under xdist
    with capsys.disabled():
        print(
            f"\nmc-serve load: {len(files)} images over 4 storescu associations: all received in "
            f"{received - start:.1f} s, all {len(files)} SRs in Orthanc after {done - start:.1f} s: "
            f"{len(files) / (done - start):.2f} images/s end to end"
        )


def test_small_load_with_a_hung_and_a_disconnecting_peer(tmp_path, mammograms, orthanc, start_serve, capsys):
    """benchmarks/serve_load.py in small (2 x 10): every acknowledged image gets one SR, the misbehaving
    peers stall no one and leave no partial file, and RSS is sampled throughout."""
    need("storescu", "dcmtk")
    serve_load = serve_load_module()
    files = make_images(mammograms, tmp_path / "in", 20)
    serve = start_serve(extra=("--network-timeout", "5", "--acse-timeout", "5"))
    sampler = serve_load.RssSampler(serve.process.pid)
    result = serve_load.storescu_load(serve.port, files, associations=2)
    assert sorted(result.acknowledged) == sorted(map(str, files)) and not result.refused
    wait_for_srs(orthanc, len(files))
    time.sleep(1.0)
    rss = sampler.stop()
    assert serve.terminate() == 0
    assert_one_sr_per_study(orthanc, studies_of(files))
    leftovers = [p.name for state in ("incoming", "outbox") for p in (serve.spool / state).iterdir()]
    assert leftovers == [] and not list(serve.spool.rglob(".*.tmp"))  # no partial file anywhere
    assert rss and max(rss) < rss[0] + 300 * 1024, rss
    log = serve.log.read_text()
    assert log.count('"outcome": "stored"') == len(files)  # the audit: each instance once
    with capsys.disabled():
        print(
            f"\nsmall load: {len(files)} images sent in {result.send_s:.1f} s; "
            f"mc-serve RSS {rss[0] / 1024:.0f}..{max(rss) / 1024:.0f} MiB"
        )
