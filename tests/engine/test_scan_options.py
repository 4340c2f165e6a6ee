"""settings_from_options: the one builder mc-scan, mc-froc and mc-serve get their ScanSettings from."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import pytest

from microcalc.dicomnode.config import ServeConfig
from microcalc.engine.scan_options import DEFAULTS, settings_from_options
from microcalc.engine.settings import ScanSettings
from microcalc.errors import InputError
from microcalc.operating_points import OperatingPoints

BUNDLE = SimpleNamespace(
    operating_points=OperatingPoints(), threshold=0.4, config=SimpleNamespace(pixel_spacing_mm=0.07)
)
FROC = {  # mc-froc's parameters: no --decode-timeout
    "operating_point": None,
    "threshold": None,
    "overlap": 0.5,
    "min_breast": 0.2,
    "batch_size": 4,
    "spacing": 0.1,
    "native_grid": True,
}


def test_options_a_command_does_not_take_keep_the_defaults():
    point, settings = settings_from_options(BUNDLE, FROC)
    assert point.threshold == 0.4 and not point.calibrated
    assert settings == ScanSettings(
        threshold=0.4,
        overlap=0.5,
        min_breast=0.2,
        batch_size=4,
        model_spacing_mm=0.07,
        input_spacing_mm=0.1,
        native_grid=True,
    )


def test_mc_scan_and_mc_serve_give_the_same_settings_for_the_same_values():
    scan = {**FROC, "threshold": 0.3, "spacing": None, "native_grid": False, "decode_timeout": 12.0}
    serve = ServeConfig(
        port=11112,
        dest="PACS@127.0.0.1:4242",
        spool=Path("spool"),
        out=Path("out"),
        threshold=0.3,
        overlap=0.5,
        min_breast=0.2,
        batch_size=4,
        decode_timeout=12.0,
    )
    assert settings_from_options(BUNDLE, scan) == settings_from_options(BUNDLE, asdict(serve))


def test_a_point_and_a_threshold_together_are_refused():
    with pytest.raises(InputError, match="not both"):
        settings_from_options(BUNDLE, {**FROC, "operating_point": "youden", "threshold": 0.3})


def test_mc_serve_runs_with_the_defaults_its_help_shows():
    from microcalc.dicomnode.cli import cli

    serve = ServeConfig(port=11112, dest="PACS@127.0.0.1:4242", spool=Path("spool"), out=Path("out"))
    shown = {p.name: p.default for p in cli.params if p.name in DEFAULTS}
    assert shown == DEFAULTS
    assert {name: getattr(serve, name) for name in DEFAULTS} == DEFAULTS
