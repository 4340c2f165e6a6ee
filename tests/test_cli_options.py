"""The CLI helpers every command shares: option groups, shared options, and writing_to's one-line errors."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from microcalc.cli_common import CONTEXT_SETTINGS, option_group, writing_to
from microcalc.cli_options import fit_option, out_dir_option, seed_option
from microcalc.errors import MicrocalcError
from microcalc.imaging.patches import FIT_POLICIES


def test_option_group_adds_options_in_the_order_given():
    group = option_group(click.option("--first", default=1), click.option("--second", default=2))

    @click.command(context_settings=CONTEXT_SETTINGS)
    @group
    @seed_option()
    def command(first: int, second: int, seed: int) -> None:
        click.echo(f"{first} {second} {seed}")

    assert [p.name for p in command.params] == ["first", "second", "seed"]
    result = CliRunner().invoke(command, ["--second", "5", "--seed", "3"])
    assert result.output == "1 5 3\n"
    # CONTEXT_SETTINGS shows every default once for all commands
    assert "[default: 1]" in CliRunner().invoke(command, ["--help"]).output


def test_shared_options_keep_their_names_types_and_defaults():
    @click.command()
    @fit_option()
    @out_dir_option(default=Path("scans"), help="Folder.")
    def command(fit_policy: str, out_dir: Path) -> None:
        click.echo(f"{fit_policy} {out_dir}")

    assert CliRunner().invoke(command, []).output == "error scans\n"
    assert CliRunner().invoke(command, ["--fit", "resize", "--out", "x"]).output == "resize x\n"
    fit = next(p for p in command.params if p.name == "fit_policy")
    assert tuple(fit.type.choices) == FIT_POLICIES


@pytest.mark.parametrize(
    ("raised", "expected_type", "expected_text"),
    [
        # an argument the library refused: a usage error quoting the library's message
        (ValueError("spacing 9 out of range"), click.UsageError, "spacing 9 out of range"),
        # a failed write: one line naming the path and the reason
        (
            PermissionError(13, "Permission denied"),
            MicrocalcError,
            "out/x.dcm: cannot write patches (Permission denied)",
        ),
    ],
)
def test_writing_to_turns_library_errors_into_one_line(raised, expected_type, expected_text):
    with pytest.raises(expected_type) as info, writing_to(Path("out/x.dcm"), what="write patches"):
        raise raised
    assert (
        str(info.value.message if isinstance(info.value, click.UsageError) else info.value) == expected_text
    )
