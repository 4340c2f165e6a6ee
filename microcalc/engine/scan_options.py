"""Options that every command scanning whole mammograms shares (``mc-scan``, ``mc-froc``), defined once.

Both must run the product exactly as a reader gets it, so they take the same backend, precision
and tiling options with the same defaults.
"""

from __future__ import annotations

from collections.abc import Callable

import click

PRECISION_CHOICES = ("auto", "fp32", "fp16", "int8")


def scan_options(command: Callable) -> Callable:
    """Add ``--backend --precision --overlap --batch-size --min-breast`` to a click command."""
    options = (
        click.option(
            "--backend",
            default="auto",
            show_default=True,
            help="onnxruntime, openvino, tensorrt, torch, or auto (the fastest that runs here).",
        ),
        click.option(
            "--precision",
            type=click.Choice(PRECISION_CHOICES),
            default="auto",
            show_default=True,
            help="Which bundle variant to run.",
        ),
        click.option(
            "--overlap",
            type=float,
            default=0.25,
            show_default=True,
            help="Fraction of a tile shared with its neighbour.",
        ),
        click.option("--batch-size", type=int, default=8, show_default=True, help="Tiles per backend call."),
        click.option(
            "--min-breast",
            type=float,
            default=0.1,
            show_default=True,
            help="Skip tiles with a smaller fraction of breast tissue.",
        ),
    )
    for option in reversed(options):
        command = option(command)
    return command


def threshold_options(command: Callable) -> Callable:
    """Add ``--operating-point NAME`` and ``--threshold T`` (see :mod:`microcalc.operating_points`)."""
    command = click.option(
        "--threshold",
        type=float,
        default=None,
        help="Fixed cluster probability threshold instead of an operating point.",
    )(command)
    return click.option(
        "--operating-point",
        "operating_point",
        default=None,
        help="Named operating point of the bundle (e.g. fp0.25, youden) [default: the "
        "bundle's "
        "default; 0.5 for bundles without points].",
    )(command)


def spacing_options(command: Callable) -> Callable:
    """Add ``--spacing MM`` (inputs without one: PNG, PGM, TIFF) and ``--native-grid`` (see
    :mod:`microcalc.engine.geometry`) to a command that scans files."""
    command = click.option(
        "--native-grid",
        is_flag=True,
        help="Scan every image at its own pixel grid instead of resampling it to the model's spacing (as "
        "before resampling existed; to measure what resampling is worth).",
    )(command)
    return click.option(
        "--spacing",
        "spacing",
        type=click.FloatRange(min=0.0, min_open=True),
        default=None,
        help="Pixel spacing in mm of inputs without one (PNG, PGM, TIFF); DICOM headers win. Without it such "
        "inputs are assumed to be at the model's spacing.",
    )(command)


def triage_option(command: Callable) -> Callable:
    """Add ``--triage/--no-triage`` (see :mod:`microcalc.engine.triage`); unset means on when the bundle
    has a triage model."""
    return click.option(
        "--triage/--no-triage",
        "triage",
        default=None,
        help="Let the bundle's triage model skip tiles it rules out before the main model [default: on "
        "when the bundle has one]; --triage with a bundle without one is refused.",
    )(command)
