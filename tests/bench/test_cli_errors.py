"""mc-bench's refusals: one-line errors for bad inputs, usage errors for bad options, no partial report."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from microcalc.bench.cli import cli
from microcalc.errors import InputError


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "/nonexistent/bundle"], "not a model bundle"),  # no bundle there
    ],
)
def test_bad_model_is_one_line_error(args, message, tmp_path):
    with pytest.raises(InputError, match=message):
        CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "r.json")], catch_exceptions=False)
    assert not (tmp_path / "r.json").exists()  # never a partial report


@pytest.mark.parametrize(
    "args, message",
    [
        (["--precisions", "fp64"], "unknown precision 'fp64'"),  # not a precision
        (["--batch-sizes", "0,4"], "at least 1"),  # batch size 0
        (["--batch-sizes", "a,b"], "comma-separated list"),  # not numbers
    ],
)
def test_bad_options_are_usage_errors(args, message):
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2 and message in result.output
