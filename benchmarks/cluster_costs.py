"""Per-image CPU cost of each stage of ``mc-scan --ray``, for the scaling argument in docs/cluster.md.

Times the engine's own functions in process CPU seconds (steadier than wall time on a shared
machine): the resume key (``file_sha256``), decode + breast mask + tile grid
(``prepare.prepare``), report + PNG overview (``ScanReport.of`` + ``write_outputs``), and the
model actor's work (``Scanner.scan_prepared``: tile copies, inference, stitching).

Example: python benchmarks/cluster_costs.py --model bundle big/m1.dcm big/m2.dcm
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

from microcalc.bundle import Bundle, file_sha256
from microcalc.engine.pipeline import Scanner
from microcalc.engine.prepare import prepare
from microcalc.engine.report import RunInfo, ScanReport, write_outputs
from microcalc.engine.scan_options import DEFAULTS
from microcalc.engine.session import open_scan, plan_scan


def _cpu_ms(fn) -> tuple[object, float]:
    start = time.process_time()
    value = fn()
    return value, (time.process_time() - start) * 1e3


def _measure(
    scanner: Scanner, run: RunInfo, index: int, path: Path, out: Path
) -> tuple[float, float, float, float, int]:
    """CPU ms of each stage for one image, and its tile count."""
    _, key_ms = _cpu_ms(lambda: file_sha256(path))
    prepared, prep_ms = _cpu_ms(
        lambda: prepare(
            index, path, reader=scanner.reader, settings=scanner.settings, patch_size=scanner.patch_size
        )
    )
    if prepared.error is not None:
        sys.exit(f"cluster_costs: {prepared.error}")
    (result,), model_ms = _cpu_ms(lambda: list(scanner.scan_prepared([prepared])))
    _, report_ms = _cpu_ms(
        lambda: write_outputs(result, ScanReport.of(result, run), out_dir=out, stem=f"image{index}")
    )
    return key_ms, prep_ms, report_ms, model_ms, len(result.grid)


@click.command()
@click.argument("images", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--model", type=click.Path(exists=True, path_type=Path), required=True, help="Bundle folder.")
@click.option("--backend", default="onnxruntime", show_default=True)
@click.option("--precision", default="fp32", show_default=True)
def main(images: tuple[Path, ...], *, model: Path, backend: str, precision: str) -> None:
    """Print each image's CPU milliseconds per stage, then the medians."""
    bundle = Bundle.load(model)
    patch = bundle.config.patch_size
    options = {**DEFAULTS, "backend": backend, "precision": precision}
    plan = plan_scan(bundle, {**options, "operating_point": None, "threshold": None}, isolation="none")
    out = Path(tempfile.mkdtemp(prefix="cluster-costs-"))
    rows = []
    with open_scan(plan) as session:
        chosen = session.chosen
        for index, path in enumerate(images):
            row = _measure(session.scanner, session.run, index, path, out)
            rows.append(row)
            click.echo(
                f"{path.name}: {path.stat().st_size / 1e6:.1f} MB, {row[4]} tiles of {patch}: CPU ms sha256 "
                f"{row[0]:.0f}, decode+mask+grid {row[1]:.0f}, report+overview {row[2]:.0f}, "
                f"model (tile copies, inference, stitching) {row[3]:.0f}"
            )
    med = [statistics.median(column) for column in zip(*rows)]
    click.echo(
        f"median ({chosen}): sha256 {med[0]:.0f}, decode+mask+grid {med[1]:.0f}, report+overview "
        f"{med[2]:.0f}, model {med[3]:.0f} CPU ms per image; {med[4]:.0f} tiles"
    )


if __name__ == "__main__":
    main()
