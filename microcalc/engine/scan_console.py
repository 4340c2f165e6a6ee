"""What ``mc-scan`` writes and prints for each input: its outputs or its one refusal line, and the summary.

Every input is accounted for: :func:`finish` writes a scanned input's report, overview (and SR) or
refuses it with :func:`refuse`, one line naming the file and the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from microcalc.engine.geometry import ASSUMED_SOURCE
from microcalc.engine.report import RunInfo, ScanReport
from microcalc.engine.results import write_result
from microcalc.engine.scan_result import ScanResult
from microcalc.errors import MicrocalcError


def spacing_cell(resampling: dict[str, Any]) -> str:
    """``0.05->0.07`` when resampled, the spacing alone when not, ``?`` marks an assumed spacing."""
    original, model = resampling["original_spacing_mm"], resampling["model_spacing_mm"]
    text = f"{original[1]:g}" if original else "-"
    if resampling["resampled"]:
        text += f"->{model:g}"
    return text + ("?" if resampling["spacing_source"] == ASSUMED_SOURCE else "")


def summary_table(rows: list[ScanReport], failed: list[str], wall_s: float) -> Table:
    """The table mc-scan prints after the scan: one row per scanned input."""
    table = Table(title=f"mc-scan: {len(rows)} scanned, {len(failed)} refused, {wall_s:.1f} s")
    for column in ("input", "lat/view", "mm/px", "tiles", "findings", "max score", "suspicious", "ms"):
        table.add_column(column, justify="left" if column in ("input", "lat/view", "mm/px") else "right")
    for r in rows:
        table.add_row(
            Path(r.input).name,
            f"{r.laterality or '-'}/{r.view or '-'}",
            spacing_cell(r.geometry.to_dict()),
            f"{r.tiles_scanned}/{r.tiles_total}",
            str(len(r.findings)),
            f"{r.max_score:.3f}",
            "[bold red]yes[/]" if r.suspicious else "no",
            f"{r.times_ms.get('wall', 0):.0f}",
        )
    return table


def finish(
    result: ScanResult,
    run: RunInfo,
    out_dir: Path,
    stem: str,
    reports: list,
    failed: list,
    console: Console,
    *,
    sr: bool = False,
    heatmap: bool = False,
    zoom: bool = False,
) -> None:
    """Write one input's outputs (:func:`~microcalc.engine.results.write_result`; ``heatmap``, ``zoom``:
    see :func:`~microcalc.engine.report.write_outputs`), or print its one-line error; the report, with
    its ``outputs``, joins ``reports``."""
    if result.error is not None:
        refuse(console, failed, result.path, str(result.error))
        return
    try:
        written = write_result(result, run, out_dir=out_dir, stem=stem, sr=sr, heatmap=heatmap, zoom=zoom)
    except MicrocalcError as exc:
        refuse(console, failed, result.path, str(exc))
        return
    report = written.report
    if (t := report.triage) is not None:
        line = f"mc-scan: {result.path.name}: triage skipped {t.skipped} of {t.scores.size} tiles"
        console.print(line, highlight=False, markup=False, soft_wrap=True)
    reports.append(report)


def refuse(console: Console, failed: list, path: Path, line: str) -> None:
    """Count ``path`` as refused and print its one line."""
    console.print(f"mc-scan: error: {line}", highlight=False, markup=False, soft_wrap=True)
    failed.append(str(path))
