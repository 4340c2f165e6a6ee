"""What the cluster's workers run for ``mc-scan --ray``: its three Ray Data stages.

``prepare_row`` (CPU task): file SHA-256, skip if an earlier run did it, then the engine's own
:func:`~microcalc.engine.pipeline.prepare` (decode, breast mask, tile grid). ``ModelActor``
(actor pool; one GPU each on GPU clusters): loads the bundle once, runs the engine's
:class:`~microcalc.engine.pipeline.Scanner` on the prepared jobs (tile copies, inference,
stitching, findings). ``write_row`` (CPU task): the engine's report and overview, written
atomically; returns the small row the driver records in the ledger.

Rows carry a ``status``: ``todo`` until written, else ``done``, ``failed`` (with the one-line
``reason``) or ``skipped``. A bad input becomes a ``failed`` row and never stops the run.
"""

from __future__ import annotations

import atexit
import functools
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bundle import Bundle, file_sha256
from microcalc.cluster.ledger import DONE, FAILED, SKIPPED, DoneIndex
from microcalc.engine.pipeline import Scanner, ScanSettings, prepare
from microcalc.engine.report import build_report, write_outputs
from microcalc.errors import MicrocalcError
from microcalc.imaging import read_mammogram
from microcalc.imaging.isolated import IsolatedReader
from microcalc.report_sr.document import write_scan_sr

TODO = "todo"


@dataclass(frozen=True)
class ScanSpec:
    """Everything a worker needs to know about the scan; shipped once to each task and actor."""

    bundle: str
    backend: str
    precision: str
    settings: ScanSettings
    patch_size: int
    force: bool
    out_dir: str
    sr: bool = False
    isolation: str = "process"

    def reader(self) -> Any:
        return partial(read_mammogram, force=self.force, min_side=self.patch_size)


@functools.cache
def decode_reader(spec: ScanSpec) -> Any:
    """The reader of this Ray worker process's decode tasks, made once per process.

    With ``isolation="process"`` (as ``mc-scan``'s default) an :class:`IsolatedReader` decodes in a
    killable child process, so a decoder that hangs or crashes on a hostile file costs that input
    only, never the Ray worker, whose death Ray Data would retry on the same file and then fail the run.
    """
    if spec.isolation != "process":
        return spec.reader()
    isolated = IsolatedReader(spec.reader(), timeout_s=spec.settings.decode_timeout_s)
    atexit.register(isolated.close)
    return isolated


def prepare_row(row: dict[str, Any], *, spec: ScanSpec, done: DoneIndex) -> dict[str, Any]:
    """CPU stage: key the input by its bytes, skip it if done, else decode, mask and tile it."""
    path = Path(row["path"])
    out = {**row, "key": "", "uid": None, "status": TODO, "reason": None, "job": None}
    try:
        out["key"] = file_sha256(path)
    except OSError:
        pass  # unreadable: prepare() below gives the reader's one-line reason
    if out["key"] in done.keys:
        return {**out, "status": SKIPPED}
    job = prepare(
        int(row["index"]),
        path,
        reader=decode_reader(spec),
        settings=spec.settings,
        patch_size=spec.patch_size,
    )
    if job.error is not None:
        return {**out, "status": FAILED, "reason": str(job.error)}
    out["uid"] = job.image.meta.sop_instance_uid
    if out["uid"] and out["uid"] in done.uids:
        return {**out, "status": SKIPPED}
    return {**out, "job": job}


class ModelActor:
    """Model stage: one loaded backend per actor, fed batches of prepared images."""

    def __init__(self, *, spec: ScanSpec) -> None:
        from microcalc.engine.cli import open_run

        self.backend, self.run, self.chosen = open_run(
            Bundle.load(spec.bundle), backend=spec.backend, precision=spec.precision, settings=spec.settings
        )
        self.backend.activate()
        self.scanner = Scanner(self.backend, reader=spec.reader(), settings=spec.settings)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["status"])
        todo = [i for i in range(n) if batch["status"][i] == TODO]
        results = np.empty(n, dtype=object)
        for i, result in zip(todo, self.scanner.scan_prepared(batch["job"][i] for i in todo)):
            result.cams = None  # the findings are made; reports do not need the CAMs
            results[i] = result
        runs = np.empty(n, dtype=object)
        runs[:] = [self.run] * n
        return {**batch, "job": results, "run": runs, "chosen": np.array([self.chosen] * n)}


def write_row(row: dict[str, Any], *, spec: ScanSpec) -> dict[str, Any]:
    """Report stage: the same JSON report and PNG overview as ``mc-scan``, then a small ledger row."""
    out = {k: row[k] for k in ("index", "path", "stem", "key", "uid", "status", "reason")}
    out.update(chosen=row.get("chosen"), report=None, findings=None)
    if row["status"] != TODO:
        return out
    job, out_dir = row["job"], Path(spec.out_dir)
    report = build_report(job, row["run"])
    try:
        json_path, _ = write_outputs(job, report, out_dir=out_dir, stem=row["stem"])
    except OSError as exc:
        return {
            **out,
            "status": FAILED,
            "reason": f"{out_dir / row['stem']}.json: cannot write the report ({exc.strerror or exc})",
        }
    if spec.sr:  # as mc-scan --sr: the CAD SR beside the report, or the input fails
        try:
            write_scan_sr(job.path, report, out_dir / f"{row['stem']}.sr.dcm")
        except (MicrocalcError, OSError) as exc:
            return {**out, "status": FAILED, "reason": str(exc)}
    return {**out, "status": DONE, "report": str(json_path), "findings": json.dumps(report["findings"])}
