"""What every microcalc command shares: one-line errors and shared click options.

A click command's docstring is its help text. Commands are wrapped with
:func:`run_cli` so that a :class:`~microcalc.errors.MicrocalcError` prints one line
(``mc-xxx: error: ...``) and exits with status 1 instead of a traceback.
"""

from __future__ import annotations

import sys
from typing import Callable

import click

from microcalc.errors import MicrocalcError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def run_cli(command: click.Command, prog_name: str) -> Callable[[], None]:
    """Return a console-script entry point that runs ``command`` with one-line errors."""

    def main() -> None:
        try:
            command.main(prog_name=prog_name, standalone_mode=False)
        except click.exceptions.Abort:
            click.echo(f"{prog_name}: aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            # Usage errors keep click's usage line, then one line that says what is wrong.
            exc.show()
            sys.exit(exc.exit_code)
        except MicrocalcError as exc:
            click.echo(f"{prog_name}: error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo(f"{prog_name}: interrupted", err=True)
            sys.exit(130)

    return main


def seed_option(default: int = 0) -> Callable:
    """``--seed N``: the one option every stochastic command shares."""
    return click.option("--seed", type=int, default=default, show_default=True,
                        help="Random seed; the same seed gives the same output.")


def spacing_option() -> Callable:
    """``--spacing MM``: the pixel spacing of inputs that carry none (PNG, PGM, TIFF), for every scanning command."""
    return click.option("--spacing", "spacing", type=click.FloatRange(min=0.0, min_open=True), default=None,
                        help="Pixel spacing in mm of inputs without one (PNG, PGM, TIFF); DICOM headers win. "
                             "Without it such inputs are assumed to be at the model's spacing.")


def native_grid_option() -> Callable:
    """``--native-grid``: scan at each image's own grid, ignoring the model's spacing (for comparisons)."""
    return click.option("--native-grid", is_flag=True,
                        help="Scan every image at its own pixel grid instead of resampling it to the model's "
                             "spacing (as before resampling existed; to measure what resampling is worth).")
