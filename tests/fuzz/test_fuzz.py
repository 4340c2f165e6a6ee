"""The fuzzer in the test suite: a short deterministic run, the saved regressions, one mc-scan batch."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest
from fuzz import REGRESSIONS, fuzz, judge, make_seeds, write_batch

from microcalc.imaging import read_mammogram
from microcalc.imaging.isolated import IsolatedReader

ROOT = Path(__file__).resolve().parents[2]
NOISE = ("Traceback", "panicked at", "stack backtrace", "RUST_BACKTRACE")


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The fuzzer's seeds: 256x256 mc-synth mammograms, every transfer syntax x MONOCHROME1/2."""
    return make_seeds(tmp_path_factory.mktemp("seeds"))


def test_seeds_cover_every_transfer_syntax_and_photometric(seeds):
    import pydicom

    kinds = {
        (pydicom.dcmread(p).file_meta.TransferSyntaxUID.name, pydicom.dcmread(p).PhotometricInterpretation)
        for p in seeds
    }
    assert {ts for ts, _ in kinds} >= {
        "Explicit VR Little Endian",
        "RLE Lossless",
        "JPEG 2000 Image Compression (Lossless Only)",
    }
    assert all((ts, pi) in kinds for ts, _ in kinds for pi in ("MONOCHROME1", "MONOCHROME2"))


def test_short_deterministic_run_finds_no_crash_or_hang(seeds, tmp_path):
    report = fuzz(seeds, inputs=300, seconds=None, seed=0, timeout_s=30, save_to=tmp_path / "found")
    assert report["failures"] == []
    assert report["inputs"] == 300 == sum(report["outcomes"].values())
    # the mutants exercise both sides: some still read as images, most are refused
    assert report["outcomes"]["image"] > 10 and report["outcomes"]["refused"] > 100


@pytest.fixture(scope="module")
def isolated_read():
    """One decoder process for all the replays (a fresh one replaces it if a case kills it)."""
    with IsolatedReader(partial(read_mammogram, force=True), timeout_s=30) as read:
        yield read


@pytest.mark.parametrize("case", sorted(REGRESSIONS.glob("*.dcm")), ids=lambda p: p.name)
def test_saved_regressions_are_refused_in_one_line(case, isolated_read):
    outcome, detail = judge(case, isolated_read)
    assert outcome in ("image", "refused"), detail


def test_mc_scan_batch_of_mutants_accounts_for_every_input(seeds, small_bundle, tmp_path):
    inputs = write_batch(tmp_path / "in", seeds, count=40, seed=7)
    out = tmp_path / "out"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "RUST_BACKTRACE": "1",
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "from microcalc.scan_cli import main; main()",
            str(tmp_path / "in"),
            "--model",
            str(small_bundle),
            "--out",
            str(out),
            "--decode-timeout",
            "30",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    console = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), console
    assert not [word for word in NOISE if word in console], console
    refused = {
        line.split(": ")[2] for line in proc.stderr.splitlines() if line.startswith("mc-scan: error: ")
    }
    scanned = {p.stem for p in out.glob("*.json")}
    for path in inputs:
        assert (str(path) in refused) != (path.stem in scanned), (
            f"{path.name}: neither or both scanned and refused"
        )
    assert all(p.stem in scanned for p in inputs if p.name.startswith("valid-"))
    summary = proc.stderr.strip().splitlines()[-1]
    assert summary.startswith(
        f"mc-scan: {len(inputs)} input(s): {len(scanned)} scanned, {len(refused)} refused"
    )
