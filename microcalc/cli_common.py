"""What every microcalc command shares: one-line errors and shared click options.

A click command's docstring is its help text. Commands are wrapped with
:func:`run_cli` so that a :class:`~microcalc.errors.MicrocalcError` prints one line
(``mc-xxx: error: ...``) and exits with status 1 instead of a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

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
    return click.option(
        "--seed",
        type=int,
        default=default,
        show_default=True,
        help="Random seed; the same seed gives the same output.",
    )
