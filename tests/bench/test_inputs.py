"""mc-bench's default inputs are what mc-synth makes with the same arguments, without importing it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from microcalc.bench.inputs import bench_inputs
from microcalc.synth.cli import cli as synth_cli


def test_default_patches_are_mc_synths(tmp_path):
    result = CliRunner().invoke(
        synth_cli, ["patches", str(tmp_path / "cli"), "--n", "6", "--patch-size", "64", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    with bench_inputs((), None, patch_size=64, count=6, seed=3, real=tmp_path / "none", scan=False) as (
        folders,
        mammogram,
    ):
        (made,) = folders
        assert mammogram is None
        names = sorted(p.relative_to(made).as_posix() for p in made.rglob("*.png"))
        assert names and names == sorted(
            p.relative_to(tmp_path / "cli").as_posix() for p in (tmp_path / "cli").rglob("*.png")
        )
        for name in names:
            assert (made / name).read_bytes() == Path(tmp_path / "cli" / name).read_bytes()
