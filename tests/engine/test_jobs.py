"""The first input decodes while the backend is still being activated, and is decoded only once: the
early decode is simply the first job of :class:`ScanInputs`."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from engine_fakes import MeanBackend, as_image, phantom

from microcalc.engine.jobs import ScanInputs
from microcalc.engine.pipeline import Scanner
from microcalc.engine.settings import ScanSettings
from microcalc.errors import InputError

P = 64
SETTINGS = ScanSettings(threshold=0.3, batch_size=4)


class CountingReader:
    """Serves arrays by file name, counts reads per name, and signals each read's start."""

    def __init__(self, images: dict[str, np.ndarray]) -> None:
        self.images = images
        self.calls: list[str] = []
        self.started = threading.Event()

    def __call__(self, path: Path):
        self.calls.append(path.name)
        self.started.set()
        if path.name not in self.images:
            raise InputError(f"{path}: not a DICOM file")
        return as_image(self.images[path.name], path.name)


def test_first_image_decodes_before_the_backend_is_active_and_only_once():
    images = {"a": phantom(seed=1), "b": phantom(spots=(), seed=2)}
    reader = CountingReader(images)
    backend = MeanBackend(patch=P)
    paths = [Path("a"), Path("b")]
    with ScanInputs(paths, reader=reader, settings=SETTINGS, patch_size=P, early=True) as inputs:
        assert reader.started.wait(10)  # decoding began with the backend still inactive
        assert not backend.is_active
        with backend:
            results = list(Scanner(backend, reader=reader, settings=SETTINGS).scan(inputs))
    assert reader.calls == ["a", "b"]  # the first path is not decoded a second time
    assert [r.path.name for r in results] == ["a", "b"] and all(r.error is None for r in results)
    assert results[0].times_ms["wall"] >= results[0].times_ms["decode"]  # wall counted from the early start

    plain_reader = CountingReader(images)
    with MeanBackend(patch=P) as plain:
        expected = list(Scanner(plain, reader=plain_reader, settings=SETTINGS).scan([Path("a"), Path("b")]))
    for got, want in zip(results, expected):
        np.testing.assert_array_equal(got.scores, want.scores)
        assert [f.bbox for f in got.findings] == [f.bbox for f in want.findings]


def test_a_refused_first_input_is_reported_and_the_rest_is_scanned(mean_backend):
    reader = CountingReader({"b": phantom(seed=3)})
    backend = mean_backend(P)
    paths = [Path("missing"), Path("b")]
    with ScanInputs(paths, reader=reader, settings=SETTINGS, patch_size=P, early=True) as inputs:
        results = list(Scanner(backend, reader=reader, settings=SETTINGS).scan(inputs))
    assert "missing: not a DICOM file" in str(results[0].error)
    assert results[1].error is None and len(results[1].grid) > 0


def test_an_early_decode_is_taken_once_and_stopped_when_nobody_waits(mean_backend):
    reader = CountingReader({"a": phantom(seed=1)})
    scanner = Scanner(mean_backend(P), reader=reader, settings=SETTINGS)
    with ScanInputs([Path("a")], reader=reader, settings=SETTINGS, patch_size=P, early=True) as inputs:
        assert [r.path.name for r in scanner.scan(inputs)] == ["a"]
        assert [r.path.name for r in scanner.scan(inputs)] == ["a"]  # a second scan reads it again
    assert reader.calls == ["a", "a"]
    release, stop = threading.Event(), threading.Event()

    def blocked(path: Path):
        release.wait(10)
        return as_image(phantom(seed=1), path.name)

    stop.set()
    with ScanInputs([Path("a")], reader=blocked, settings=SETTINGS, patch_size=P, early=True) as inputs:
        assert list(inputs.jobs(stop)) == []  # a stopped scan does not wait for the early decode
    release.set()
