"""Default inputs of ``mc-bench``: synthetic patches and a synthetic mammogram, made by ``mc-synth``.

When the user gives no patch folder, parity is measured on a fresh synthetic patch set at the
model's patch size plus ``../shared/data/real_patches`` when present; when no mammogram is
given, a synthetic 4096x3328 one is scanned. Both are written to a temporary folder that is
removed afterwards, made by the functions ``mc-synth patches`` and ``mc-synth mammogram`` run, with
their defaults, so they match what users generate (the command module itself is not imported:
nothing imports a command module).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from microcalc.cli_common import writing_to
from microcalc.errors import MicrocalcError

DEFAULT_MAMMOGRAM_SHAPE = (4096, 3328)
_NO_SYNTH = (
    "mc-synth is not available to make the default inputs; "
    "pass --patches DIR (and --mammogram FILE or --no-scan)"
)


def _synth_patches(out: Path, *, count: int, patch_size: int, seed: int) -> None:
    """``mc-synth patches OUT --n COUNT --patch-size P --seed S``, through the functions it runs."""
    try:
        from microcalc.synth.patches import PatchStyle, write_patch_set
    except ImportError as exc:
        raise MicrocalcError(_NO_SYNTH) from exc
    with writing_to(out, what="write patches"):
        write_patch_set(
            out, n=count, patch_size=patch_size, seed=seed, style=PatchStyle(), progress=count >= 200
        )


def _synth_mammogram(out: Path, *, seed: int) -> None:
    """``mc-synth mammogram OUT --rows R --cols C --seed S`` (4096x3328), through the functions it runs."""
    try:
        from microcalc.synth.phantom import DEFAULT_SPACING_MM
        from microcalc.synth.vendors import Case, write_case
    except ImportError as exc:
        raise MicrocalcError(_NO_SYNTH) from exc
    rows, cols = DEFAULT_MAMMOGRAM_SHAPE
    with writing_to(out):
        write_case(out, Case(name=out.name, seed=seed, rows=rows, cols=cols, spacing_mm=DEFAULT_SPACING_MM))


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
            _synth_patches(synth, count=count, patch_size=patch_size, seed=seed)
            folders = [synth] + ([real] if (real / "calc.png").is_file() else [])
        if scan and mammogram is None:
            mammogram = Path(tmp) / "synthetic_mammogram.dcm"
            _synth_mammogram(mammogram, seed=seed)
        yield folders, mammogram
