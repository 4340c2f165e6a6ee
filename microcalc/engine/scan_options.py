"""Options that every command scanning whole mammograms shares (``mc-scan``, ``mc-froc``, ``mc-serve``).

They must run the product exactly as a reader gets it, so they take the same backend, precision
and tiling options with the same defaults, and :func:`settings_from_options` turns the values into
the :class:`~microcalc.engine.settings.ScanSettings` each of them scans with.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any

import click

from microcalc.cli_common import option_group
from microcalc.engine.settings import ScanSettings
from microcalc.operating_points import ChosenPoint, choose


def backend_choice() -> click.Choice:
    """``--backend``'s values: ``auto`` and every registered backend, read from the registry."""
    from microcalc.engine.backends import registry

    return click.Choice(["auto", *registry.names()])


def precision_choice(*, auto: bool) -> click.Choice:
    """``--precision``'s values: the precisions a bundle's variants have (and ``auto`` where it picks)."""
    from microcalc.engine.backends.base import PRECISIONS

    return click.Choice(["auto", *PRECISIONS] if auto else list(PRECISIONS))


# the defaults of the options below; also mc-serve's where neither its command line nor its TOML file sets one
DEFAULTS: dict[str, Any] = {
    "backend": "auto",
    "precision": "auto",
    **{f.name: f.default for f in fields(ScanSettings) if f.name in ("overlap", "batch_size", "min_breast")},
}

# ``--backend --precision --overlap --batch-size --min-breast``
scan_options = option_group(
    click.option(
        "--backend",
        type=backend_choice(),
        default=DEFAULTS["backend"],
        help="auto: the fastest that runs here.",
    ),
    click.option(
        "--precision",
        type=precision_choice(auto=True),
        default=DEFAULTS["precision"],
        help="Which bundle variant to run.",
    ),
    click.option(
        "--overlap",
        type=float,
        default=DEFAULTS["overlap"],
        help="Fraction of a tile shared with its neighbour.",
    ),
    click.option("--batch-size", type=int, default=DEFAULTS["batch_size"], help="Tiles per backend call."),
    click.option(
        "--min-breast",
        type=float,
        default=DEFAULTS["min_breast"],
        help="Skip tiles with a smaller fraction of breast tissue.",
    ),
)

# ``--operating-point NAME`` and ``--threshold T`` (see :mod:`microcalc.operating_points`)
threshold_options = option_group(
    click.option(
        "--operating-point",
        "operating_point",
        default=None,
        help="Named operating point of the bundle (e.g. fp0.25, youden) [default: the bundle's default; "
        "0.5 for bundles without points].",
    ),
    click.option(
        "--threshold",
        type=float,
        default=None,
        help="Fixed cluster probability threshold instead of an operating point.",
    ),
)

# ``--spacing MM`` (inputs without one: PNG, PGM, TIFF) and ``--native-grid`` (see
# :mod:`microcalc.engine.geometry`), for commands that scan files
spacing_options = option_group(
    click.option(
        "--spacing",
        "spacing",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        help="Pixel spacing in mm of inputs without one (PNG, PGM, TIFF); DICOM headers win. Without it "
        "such inputs are assumed to be at the model's spacing.",
    ),
    click.option(
        "--native-grid",
        is_flag=True,
        help="Scan every image at its own pixel grid instead of resampling it to the model's spacing "
        "(as before resampling existed; to measure what resampling is worth).",
    ),
)

# ``--triage/--no-triage`` (see :mod:`microcalc.engine.triage`); unset means on when the bundle has a
# triage model
triage_option = click.option(
    "--triage/--no-triage",
    "triage",
    default=None,
    help="Let the bundle's triage model skip tiles it rules out before the main model [default: on "
    "when the bundle has one]; --triage with a bundle without one is refused.",
)

# ``--decode-timeout``: every command that reads untrusted images (mc-scan, mc-froc) decodes them in a
# worker process that is killed past this deadline; the refusal line names the option
decode_timeout_option = click.option(
    "--decode-timeout",
    type=float,
    default=ScanSettings.decode_timeout_s,
    help="Seconds one input may take to read and decode before it is refused and abandoned.",
)


def settings_from_options(bundle: Any, options: Mapping[str, Any]) -> tuple[ChosenPoint, ScanSettings]:
    """The operating point and settings that the options above ask for, by their parameter names.

    One builder for ``mc-scan``, ``mc-froc`` and ``mc-serve``: the threshold comes from
    ``--operating-point`` or ``--threshold`` (:func:`~microcalc.operating_points.choose`), the model's
    pixel spacing from the bundle, so the three cannot drift apart in what they scan.

    ``options`` is a command's parameters (``click.get_current_context().params``) or ``mc-serve``'s
    configuration; options a command does not take (``mc-serve``: ``--spacing``) keep the
    :class:`~microcalc.engine.settings.ScanSettings` defaults.
    """
    point = choose(
        bundle.operating_points,
        name=options["operating_point"],
        threshold=options["threshold"],
        fallback=bundle.threshold,
    )
    settings = ScanSettings(
        threshold=point.threshold,
        overlap=options["overlap"],
        min_breast=options["min_breast"],
        batch_size=options["batch_size"],
        decode_timeout_s=options.get("decode_timeout", ScanSettings.decode_timeout_s),
        model_spacing_mm=bundle.config.pixel_spacing_mm,
        input_spacing_mm=options.get("spacing"),
        native_grid=options.get("native_grid", False),
    )
    return point, settings
