"""Default inputs of ``mc-bench``: synthetic patches and a synthetic mammogram, made by ``mc-synth``.

When the user gives no patch folder, parity is measured on a fresh synthetic patch set at the
model's patch size plus ``../shared/data/real_patches`` when present; when no mammogram is
given, a synthetic 4096x3328 one is scanned. Both are written to a temporary folder that is
removed afterwards, through ``mc-synth`` itself so they match what users generate.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from microcalc.errors import MicrocalcError

DEFAULT_MAMMOGRAM_SHAPE = (4096, 3328)


def _synth(args: list[str]) -> None:
    """Run ``mc-synth ARGS`` in-process (its own errors are MicrocalcErrors with one line)."""
    try:
        from microcalc.synth.cli import cli as synth_cli
    except ImportError as exc:
        raise MicrocalcError(
            "mc-synth is not available to make the default inputs; pass --patches DIR "
            "(and --mammogram FILE or --no-scan)"
        ) from exc
    synth_cli.main(args=args, prog_name="mc-synth", standalone_mode=False)


@contextmanager
def bench_inputs(
    patch_dirs: tuple[Path, ...],
    mammogram: Path | None,
    *,
    patch_size: int,
    count: int,
    seed: int,
    real: Path,
    scan: bool,
) -> Iterator[tuple[list[Path], Path | None]]:
    """Yields ``(patch folders, mammogram)``, generating the defaults in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="mc-bench-") as tmp:
        folders = [Path(p) for p in patch_dirs]
        if not folders:
            synth = Path(tmp) / "patches"
            _synth(
                [
                    "patches",
                    str(synth),
                    "--n",
                    str(count),
                    "--patch-size",
                    str(patch_size),
                    "--seed",
                    str(seed),
                ]
            )
            folders = [synth] + ([real] if (real / "calc.png").is_file() else [])
        if scan and mammogram is None:
            mammogram = Path(tmp) / "synthetic_mammogram.dcm"
            rows, cols = DEFAULT_MAMMOGRAM_SHAPE
            _synth(
                ["mammogram", str(mammogram), "--rows", str(rows), "--cols", str(cols), "--seed", str(seed)]
            )
        yield folders, mammogram
