"""What every microcalc command shares: one-line errors, help settings and option groups.

A click command's docstring is its help text. Commands are wrapped with
:func:`run_cli` so that a :class:`~microcalc.errors.MicrocalcError` prints one line
(``mc-xxx: error: ...``) and exits with status 1 instead of a traceback. Every command's help
shows its defaults (``CONTEXT_SETTINGS``). Options that several commands share are in
:mod:`microcalc.cli_options`; :func:`option_group` bundles options into one decorator.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from microcalc.errors import MicrocalcError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100, "show_default": True}


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


def option_group(*options: Callable) -> Callable[[Callable], Callable]:
    """One decorator that adds ``options`` (``click.option(...)`` decorators) in the order given.

    For options that belong together and are added as one (``@scan_options``), defined once.
    """

    def apply(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@contextmanager
def writing_to(path: Path, *, what: str = "write") -> Iterator[None]:
    """Around a command's work that writes ``path``: the one-line errors a user gets.

    A ``ValueError`` (an argument the library refused, quoting it) becomes a usage error; an
    ``OSError`` becomes ``PATH: cannot WHAT (reason)`` instead of a traceback.
    """
    try:
        yield
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    except OSError as exc:
        raise MicrocalcError(f"{path}: cannot {what} ({exc.strerror or exc})") from exc
