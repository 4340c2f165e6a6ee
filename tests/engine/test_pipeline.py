"""The streaming pipeline with a known predictor: exact scores, buffer reuse, order, errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from engine_fakes import as_image, phantom

from microcalc.engine.backends.base import PendingBatch
from microcalc.engine.pipeline import Scanner
from microcalc.engine.settings import ScanSettings
from microcalc.engine.tiler import batch_sizes
from microcalc.errors import InputError, InternalError, MicrocalcError

P = 64
# background tiles score ~0.24 (grey 60), tiles holding the 24-px white spot ~0.3-0.35


def reader_for(images: dict[str, np.ndarray]):
    """A reader that serves arrays by file name and fails like a decoder on unknown names."""

    def read(path: Path):
        if path.name not in images:
            raise InputError(f"{path}: not a DICOM file")
        return as_image(images[path.name], path.name)

    return read


def test_scores_are_the_known_predictor_on_the_right_tiles(mean_backend):
    backend = mean_backend(P, max_batch=4)
    img = phantom(600, 500, spots=((300, 200),))
    scanner = Scanner(
        backend, reader=reader_for({"a": img}), settings=ScanSettings(threshold=0.3, batch_size=4)
    )
    (result,) = scanner.scan([Path("a")])
    assert result.error is None
    expected = np.array(
        [img[y : y + P, x : x + P].mean() / 255 for y, x in zip(result.grid.ys, result.grid.xs)]
    )
    np.testing.assert_allclose(result.scores, expected, rtol=1e-6)
    # tiles reached the backend bit-identical to the image region, in grid order
    assert len(backend.seen) == len(result.grid)
    for tile, y, x in zip(backend.seen, result.grid.ys, result.grid.xs):
        np.testing.assert_array_equal(tile, img[y : y + P, x : x + P])
    # the 24-px spot at (y=300, x=200) is the only finding and lies inside its box
    assert len(result.findings) == 1
    assert result.findings[0].frame.contains(200, 300)
    assert result.findings[0].bbox.contains(200, 300)
    assert set(result.times_ms) >= {"decode", "tiling", "inference", "stitching", "wall"}


def test_an_images_batches_end_shared_over_the_batches_in_flight(mean_backend):
    """The scanner cuts each image's tiles as ``batch_sizes`` says (full batches, then the rest split
    over the two batches in flight), and every tile still gets its own score. 80 tiles in batches of
    6: twelve full ones, then 4 + 4, not 6 + 2."""
    backend = mean_backend(P, max_batch=6)
    img = phantom(600, 500, spots=((300, 200),))
    scanner = Scanner(
        backend, reader=reader_for({"a": img}), settings=ScanSettings(threshold=0.3, batch_size=6, depth=3)
    )
    (result,) = scanner.scan([Path("a")])
    sizes = [n for _, n in backend.submitted]
    assert len(result.grid) == 80 and sizes == [6] * 12 + [4, 4]
    assert sizes == batch_sizes(len(result.grid), batch=6, lanes=2)
    expected = [img[y : y + P, x : x + P].mean() / 255 for y, x in zip(result.grid.ys, result.grid.xs)]
    np.testing.assert_allclose(result.scores, expected, rtol=1e-6)


def test_buffers_are_reused_not_allocated_per_tile(mean_backend):
    backend = mean_backend(P, max_batch=4)
    images = {f"i{k}": phantom(600, 500, seed=k) for k in range(3)}
    scanner = Scanner(
        backend, reader=reader_for(images), settings=ScanSettings(threshold=0.3, batch_size=4, depth=3)
    )
    results = list(scanner.scan([Path(n) for n in images]))
    tiles = sum(len(r.grid) for r in results)
    assert tiles > 3 * 4 * 3  # many more batches than buffers
    assert len(backend.allocated) == 3  # the ring's buffers, allocated once
    used = {buf_id for buf_id, _ in backend.submitted}
    assert used == set(backend.allocated) == {id(b) for b in scanner.ring.buffers}
    assert all(b.flags.c_contiguous and b.dtype == np.uint8 for b in scanner.ring.buffers)


def test_many_inputs_keep_order_and_bad_ones_do_not_stop_the_rest(mean_backend):
    backend = mean_backend(P)
    images = {"a": phantom(seed=1), "c": phantom(spots=(), seed=2), "small": np.zeros((32, 900), np.uint8)}
    scanner = Scanner(backend, reader=reader_for(images), settings=ScanSettings(threshold=0.3))
    results = list(scanner.scan([Path("a"), Path("missing"), Path("small"), Path("c")]))
    assert [r.path.name for r in results] == ["a", "missing", "small", "c"]
    assert [r.error is None for r in results] == [True, False, False, True]
    assert "not a DICOM file" in str(results[1].error)
    assert "smaller than one 64x64 tile" in str(results[2].error) and "small" in str(results[2].error)
    assert len(results[0].findings) == 1 and results[3].findings == []


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("buffer is too small"),  # e.g. a truncated pixel data element
        OSError("unexpected end of file"),  # a truncated file
    ],
)
def test_decoder_exceptions_become_one_line_input_errors(mean_backend, exc):
    def read(path: Path):
        raise exc

    scanner = Scanner(mean_backend(P), reader=read, settings=ScanSettings(threshold=0.3))
    (result,) = scanner.scan([Path("broken.dcm")])
    assert isinstance(result.error, InputError)
    message = str(result.error)
    assert message.startswith("broken.dcm: ") and "\n" not in message


class Fatal(BaseException):
    """Neither an Exception nor an exit: what a stage must still report instead of dying silently."""


class PanicException(BaseException):
    """Stands in for pyo3's PanicException, which pylibjpeg-rle raises on a corrupt RLE stream."""


PanicException.__module__ = "pyo3_runtime"


def failing_on(bad: str, exc: BaseException | None, images: dict[str, np.ndarray], release: threading.Event):
    """A reader that raises ``exc`` for ``bad`` (or, with ``exc=None``, blocks until ``release``)."""

    def read(path: Path):
        if path.name == bad:
            if exc is None:
                release.wait()
            else:
                raise exc
        return reader_for(images)(path)

    return read


@pytest.mark.parametrize(
    "exc, kind, message",
    [
        (Fatal("decoder state lost"), InternalError, "bug in microcalc"),  # a BaseException subclass
        (
            AttributeError("'NoneType' has no attribute 'x'"),
            InternalError,
            "bug",
        ),  # a reader bug, not the file's
        (TypeError("unsupported operand"), InternalError, "bug"),  # likewise
        (
            PanicException("index out of bounds: the len is 1703936\nbut the index is 1703936"),
            InputError,
            "the decoder panicked",
        ),  # Rust panic, multi-line
        (None, InputError, "longer than 0.3 s"),  # a reader that never returns
    ],
)
def test_reader_failures_cost_one_input_and_the_scan_goes_on(mean_backend, exc, kind, message):
    release = threading.Event()
    images = {"a": phantom(seed=1), "c": phantom(seed=2)}
    reader = failing_on("bad.dcm", exc, images, release)
    settings = ScanSettings(threshold=0.3, decode_timeout_s=0.3)
    try:
        results = list(
            Scanner(mean_backend(P), reader=reader, settings=settings).scan(
                [Path("a"), Path("bad.dcm"), Path("c")]
            )
        )
    finally:
        release.set()  # lets the abandoned reader thread end
    assert [r.path.name for r in results] == ["a", "bad.dcm", "c"]
    assert results[0].error is None and results[2].error is None and len(results[2].grid) > 0
    error = results[1].error
    assert type(error) is kind and message in str(error)
    assert str(error).startswith("bad.dcm: ") and "\n" not in str(error)
    if kind is InternalError:
        assert "not a problem with the file" in str(error)


def test_an_exit_in_the_reader_ends_the_scan_in_the_callers_thread(mean_backend):
    reader = failing_on("bad.dcm", SystemExit(3), {"a": phantom()}, threading.Event())
    scanner = Scanner(mean_backend(P), reader=reader, settings=ScanSettings(threshold=0.3))
    with pytest.raises(SystemExit):
        list(scanner.scan([Path("a"), Path("bad.dcm"), Path("a")]))


@pytest.mark.parametrize("where", ["submit", "result"])
def test_a_stage_dying_of_a_base_exception_reaches_the_caller(mean_backend, where):
    backend = mean_backend(P)

    def lost():
        raise Fatal("device state lost")

    def submit(batch, n):
        return lost() if where == "submit" else PendingBatch(lost)

    backend._submit_impl = submit
    scanner = Scanner(backend, reader=reader_for({"a": phantom()}), settings=ScanSettings(threshold=0.3))
    with pytest.raises(Fatal, match="device state lost"):
        list(scanner.scan([Path("a"), Path("a")]))


def test_blank_image_scans_zero_tiles(mean_backend):
    scanner = Scanner(
        mean_backend(P),
        reader=reader_for({"b": np.zeros((300, 300), np.uint8)}),
        settings=ScanSettings(threshold=0.3),
    )
    (result,) = scanner.scan([Path("b")])
    assert result.error is None and len(result.grid) == 0 and result.findings == []


def test_the_backend_gets_its_next_batch_before_the_oldest_returns(mean_backend, monkeypatch):
    """With nothing ready the infer stage waits for the filler, not on its oldest batch: a filler a
    little slower than the backend's submit still finds two batches in flight (OpenVINO's two streams
    each busy). Here batch k+1 is filled only once batch k is submitted, and batch k finishes only
    once k+1 is submitted (or after a timeout): waiting on the oldest would keep one in flight."""
    from microcalc.engine import pipeline

    submitted = [threading.Event() for _ in range(64)]
    state = {"fills": 0, "in_flight": 0, "peak": 0}
    lock = threading.Lock()
    real_fill = pipeline.fill_batch

    def slow_fill(pixels, grid, first, out):
        k = state["fills"]
        state["fills"] += 1
        if k:
            submitted[k - 1].wait(timeout=2)
            time.sleep(0.05)  # the filler's copies take a while
        return real_fill(pixels, grid, first, out)

    backend = mean_backend(P, max_batch=2)
    real_submit = backend._submit_impl

    def gated_submit(batch, n):
        pending = real_submit(batch, n)
        with lock:
            k = len(backend.submitted) - 1
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
        submitted[k].set()

        def result():
            submitted[k + 1].wait(timeout=0.5)  # the last batch of the scan times out
            with lock:
                state["in_flight"] -= 1
            return pending.result()

        return PendingBatch(result)

    monkeypatch.setattr(pipeline, "fill_batch", slow_fill)
    monkeypatch.setattr(backend, "_submit_impl", gated_submit)
    scanner = Scanner(
        backend,
        reader=reader_for({"a": phantom(260, 200)}),
        settings=ScanSettings(threshold=0.3, batch_size=2, depth=3),
    )
    (result,) = scanner.scan([Path("a")])
    assert result.error is None and len(backend.submitted) >= 3
    assert state["peak"] >= 2 and state["in_flight"] == 0


def test_backend_failure_propagates(mean_backend):
    backend = mean_backend(P)

    def boom(batch, n):
        raise RuntimeError("device lost")

    backend._submit_impl = boom
    scanner = Scanner(backend, reader=reader_for({"a": phantom()}), settings=ScanSettings(threshold=0.3))
    with pytest.raises(RuntimeError, match="device lost"):
        list(scanner.scan([Path("a")]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"threshold": 1.5}, "threshold"),  # probability out of range
        ({"threshold": 0.3, "overlap": 1.0}, "overlap"),  # stride would be zero
        ({"threshold": 0.3, "min_breast": -0.1}, "min-breast"),  # negative fraction
        ({"threshold": 0.3, "batch_size": 0}, "batch size"),  # empty batches
        ({"threshold": 0.3, "decode_timeout_s": 0}, "timeout"),  # every input would time out
    ],
)
def test_settings_are_validated(kwargs, message):
    with pytest.raises(MicrocalcError, match=message):
        ScanSettings(**kwargs)
