"""Writing one scanned input's outputs: one function for every command that writes them.

``mc-scan``, ``mc-scan --ray``'s write tasks and ``mc-serve`` each write an input's JSON report and
PNG overview (and, for the first two with ``--sr``, its CAD SR file) through :func:`write_result`,
so their outputs cannot drift apart. Each file is written atomically (see
:func:`~microcalc.engine.report.write_outputs`). A failure is raised as one line naming the file:
:class:`NotWritten` when the output side failed (a full disk: the input is not at fault, and
``mc-serve`` keeps it spooled to retry), another :class:`~microcalc.errors.MicrocalcError` when the
input cannot be reported (its header refuses an SR).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from microcalc.engine.report import RunInfo, ScanReport, write_outputs
from microcalc.engine.scan_result import ScanResult
from microcalc.errors import MicrocalcError
from microcalc.report_sr.document import write_scan_sr


class NotWritten(MicrocalcError):
    """An output of a scanned input could not be written (the disk's fault, not the input's)."""


@dataclass(frozen=True)
class Written:
    """What :func:`write_result` wrote: the report (with its ``outputs``) and the files."""

    report: ScanReport
    json: Path
    png: Path
    sr: Path | None = None


def write_result(
    result: ScanResult,
    run: RunInfo,
    *,
    out_dir: Path,
    stem: str,
    sr: bool = False,
    heatmap: bool = False,
    zoom: bool = False,
) -> Written:
    """Write ``out_dir/<stem>.json`` and ``.png`` (and ``.sr.dcm`` with ``sr``; ``heatmap``, ``zoom``:
    see :func:`~microcalc.engine.report.write_outputs`) for a scanned input.

    ``result.error`` must be ``None``. Raises :class:`NotWritten` or another
    :class:`~microcalc.errors.MicrocalcError`, one line naming the file (see the module docstring).
    """
    try:
        report, json_path, png_path = write_outputs(
            result, ScanReport.of(result, run), out_dir=out_dir, stem=stem, heatmap=heatmap, zoom=zoom
        )
    except OSError as exc:
        raise NotWritten(
            f"{out_dir / stem}.json: cannot write the report for {result.path} ({exc.strerror or exc})"
        ) from exc
    outputs = {"json": str(json_path), "png": str(png_path)}
    sr_path = None
    if sr:
        target = out_dir / f"{stem}.sr.dcm"
        try:
            sr_path = write_scan_sr(result.path, report.sr_subject(), target, header=result.image.header)
        except OSError as exc:
            raise NotWritten(
                f"{target}: cannot write the SR for {result.path} ({exc.strerror or exc})"
            ) from exc
        outputs["sr"] = str(sr_path)
    report = replace(report, outputs=outputs)
    return Written(report=report, json=json_path, png=png_path, sr=sr_path)
