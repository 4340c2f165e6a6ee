"""Click options that several microcalc commands share, each defined once.

The same option means the same thing, with the same type, default and help, in every command that
takes it. Options of one command only stay with that command; the scanning commands' options are
:mod:`microcalc.engine.scan_options`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from microcalc.imaging.patches import FIT_POLICIES


def seed_option(
    default: int = 0, *, help_text: str = "Random seed; the same seed gives the same output."
) -> Callable:
    """``--seed N``: the one option every stochastic command shares."""
    return click.option("--seed", type=int, default=default, help=help_text)


def bundle_option(dest: str = "model") -> Callable:
    """``--model DIR``: a bundle from ``mc-export`` (``None``: :func:`microcalc.defaults.default_bundle`)."""
    return click.option(
        "--model",
        dest,
        type=click.Path(path_type=Path),
        default=None,
        help="Model bundle folder from mc-export [default: $MICROCALC_BUNDLE or ~/.microcalc/bundle].",
    )


def out_dir_option(*, default: Path | None, help: str, dest: str = "out_dir") -> Callable:
    """``--out DIR``: the folder a command writes its outputs into."""
    return click.option(
        "--out", dest, type=click.Path(file_okay=False, path_type=Path), default=default, help=help
    )


def fit_option() -> Callable:
    """``--fit``: what to do with patches of another size than the model's (``FIT_POLICIES``)."""
    return click.option(
        "--fit",
        "fit_policy",
        type=click.Choice(FIT_POLICIES),
        default="error",
        help="Patches of another size than the model's: refuse, centre crop/zero pad, or resize.",
    )


def device_option() -> Callable:
    """``--device``: where PyTorch runs (``auto``: a GPU when there is one); the torch backend's devices."""
    from microcalc.engine.backends import registry

    return click.option(
        "--device", type=click.Choice(["auto", *registry.get("torch").devices]), default="auto"
    )
