"""Decoding in a killable worker process: same images, hangs and crashes cost one input, no console noise."""

from __future__ import annotations

import os
import threading
import time
from functools import partial
from pathlib import Path

import isolation_fakes
import numpy as np
import pytest

from microcalc.errors import InputError, InternalError
from microcalc.imaging import decode_worker, read_mammogram
from microcalc.imaging.decode_worker import SHM_DIR, SHM_PREFIX
from microcalc.imaging.isolated import IsolatedReader

HERE = Path(__file__).resolve().parent
RLE_PANIC = HERE.parent / "fuzz" / "regressions" / "rle-panic-index-out-of-bounds.dcm"


@pytest.fixture
def fakes_importable(monkeypatch):
    """Lets the decoder process import ``isolation_fakes`` (it inherits the environment)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))


@pytest.fixture
def valid_dicom(tmp_path: Path) -> Path:
    from microcalc.synth.cli import cli

    path = tmp_path / "valid.dcm"
    cli.main(
        [
            "mammogram",
            str(path),
            "--rows",
            "256",
            "--cols",
            "256",
            "--clusters",
            "0",
            "--transfer-syntax",
            "rle",
        ],
        standalone_mode=False,
    )
    return path


def test_isolated_read_equals_in_process_read(valid_dicom):
    read = partial(read_mammogram, min_side=64)
    with IsolatedReader(read, timeout_s=60) as isolated:
        image = isolated(valid_dicom)
    expected = read(valid_dicom)
    np.testing.assert_array_equal(image.pixels, expected.pixels)
    assert image.meta == expected.meta


@pytest.mark.parametrize(
    "fake, message",
    [
        (isolation_fakes.hang, "longer than 1 s and was abandoned"),  # a decoder stuck in a loop
        (
            isolation_fakes.segfault,
            r"decoder process died while reading it \(signal SIGSEGV",
        ),  # a native crash
    ],
)
def test_a_hung_or_crashed_decoder_costs_one_input_and_is_replaced(
    fakes_importable, valid_dicom, fake, message
):
    with IsolatedReader(partial(isolation_fakes.bad_one, bad=fake), timeout_s=1) as isolated:
        with pytest.raises(InputError, match=message) as error:
            isolated(Path("bad.dcm"))
        assert str(error.value).startswith("bad.dcm: ") and "\n" not in str(error.value)
        assert isolated(valid_dicom).pixels.shape == (256, 256)  # a fresh worker reads the next input


def test_a_bug_in_the_reader_is_an_internal_error_not_a_corrupt_file(fakes_importable):
    with (
        IsolatedReader(isolation_fakes.buggy, timeout_s=30) as isolated,
        pytest.raises(InternalError, match="TypeError.*bug in microcalc, not a problem with the file"),
    ):
        isolated(Path("x.dcm"))


def test_decoder_panic_is_one_line_and_nothing_reaches_the_console(capfd, monkeypatch):
    monkeypatch.setenv("RUST_BACKTRACE", "1")  # as on the machine that reported it: the worker resets it
    with (
        IsolatedReader(partial(read_mammogram, force=True), timeout_s=30) as isolated,
        pytest.raises(
            InputError, match="RLE Lossless decoder .*panicked: PanicException: index out of bounds"
        ),
    ):
        isolated(RLE_PANIC)
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_decoder_stderr_never_reaches_the_console(capfd, fakes_importable):
    with (
        IsolatedReader(isolation_fakes.noisy_then_fails, timeout_s=30) as isolated,
        pytest.raises(InputError, match="corrupt stream"),
    ):
        isolated(Path("x.dcm"))
    assert capfd.readouterr() == ("", "")


def test_large_pixels_come_back_through_shared_memory_and_leave_nothing(fakes_importable):
    with IsolatedReader(isolation_fakes.large_image, timeout_s=30) as isolated:
        image = isolated(Path("big.dcm"))
        pid = isolated._workers[0]._proc.pid
    np.testing.assert_array_equal(image.pixels, isolation_fakes.large_image(Path("big.dcm")).pixels)
    assert image.meta.path == "big.dcm" and image.pixels.flags.writeable
    assert not list(Path(SHM_DIR).glob(f"{SHM_PREFIX}{pid}-*"))
    kind, (_, name, shape, _) = decode_worker._ok(
        isolation_fakes.large_image(Path("big.dcm")), 0
    )  # the worker's side
    assert kind == "shm" and shape == (2048, 1024) and Path(name).stat().st_size == 2048 * 1024
    Path(name).unlink()


def test_a_worker_restarted_by_a_short_lived_thread_outlives_it(valid_dicom):
    # the decoder process dies with the thread that started it (PR_SET_PDEATHSIG): a scan's decode
    # thread must not be that thread, or every later scan (mc-serve: one per image) restarts it
    with IsolatedReader(read_mammogram, timeout_s=30) as isolated:
        isolated._workers[0].stop()
        reader_thread = threading.Thread(target=isolated, args=(valid_dicom,))
        reader_thread.start()
        reader_thread.join()
        proc = isolated._workers[0]._proc
        time.sleep(0.5)
        assert proc.poll() is None


def test_close_stops_the_workers(valid_dicom):
    isolated = IsolatedReader(read_mammogram, timeout_s=30, workers=2)
    isolated(valid_dicom)
    procs = [worker._proc for worker in isolated._workers]
    isolated.close()
    assert all(proc is None or proc.poll() is not None for proc in procs)
