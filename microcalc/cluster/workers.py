"""What the cluster's workers run for ``mc-scan --ray``: its three Ray Data stages.

``prepare_row`` (CPU task): file SHA-256, skip if an earlier run did it, then the engine's own
:func:`~microcalc.engine.prepare.prepare` (decode, breast mask, tile grid) with the scan's reader
(:func:`~microcalc.engine.session.open_reader`). ``ModelActor`` (actor pool; one GPU each on GPU
clusters): opens the scan once through :func:`~microcalc.engine.session.open_scan`, as ``mc-scan``
does (triage included), and runs its scanner on the prepared jobs (tile copies, triage, inference,
stitching, findings). ``write_row`` (CPU task): :func:`~microcalc.engine.results.write_result`, as
``mc-scan`` writes; returns the small row the driver records in the ledger.

Rows carry a ``status``: ``todo`` until written, else ``done``, ``failed`` (with the one-line
``reason``) or ``skipped``. A bad input becomes a ``failed`` row and never stops the run.
"""

from __future__ import annotations

import atexit
import json
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bundle import Bundle, file_sha256
from microcalc.cluster.ledger import DONE, FAILED, SKIPPED, DoneIndex
from microcalc.engine.prepare import prepare
from microcalc.engine.read_guard import Reader
from microcalc.engine.results import write_result
from microcalc.engine.session import ScanPlan, open_reader, open_scan
from microcalc.errors import MicrocalcError

TODO = "todo"


@dataclass(frozen=True)
class ScanSpec:
    """Everything a worker needs to know about the scan; shipped once to each task and actor.

    ``bundle_dir``: the bundle's absolute path, loaded (and its files' SHA-256 checked) again by
    each model actor, on whichever node it runs."""

    plan: ScanPlan
    bundle_dir: str
    out_dir: str
    sr: bool = False


_READERS: dict[tuple[bool, str, float], Reader] = {}


def decode_reader(plan: ScanPlan) -> Reader:
    """The reader of this Ray worker process's decode tasks, made once per process.

    With ``isolation="process"`` (as ``mc-scan``'s default) an
    :class:`~microcalc.imaging.isolated.IsolatedReader` decodes in a killable child process, so a
    decoder that hangs or crashes on a hostile file costs that input only, never the Ray worker,
    whose death Ray Data would retry on the same file and then fail the run.
    """
    key = (plan.force, plan.isolation, plan.settings.decode_timeout_s)
    if key not in _READERS:
        opened = open_reader(plan)
        _READERS[key] = opened.__enter__()
        atexit.register(opened.__exit__, None, None, None)
    return _READERS[key]


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
        reader=decode_reader(spec.plan),
        settings=spec.plan.settings,
        patch_size=spec.plan.patch_size,
    )
    if job.error is not None:
        return {**out, "status": FAILED, "reason": str(job.error)}
    out["uid"] = job.image.meta.sop_instance_uid
    if out["uid"] and out["uid"] in done.uids:
        return {**out, "status": SKIPPED}
    return {**out, "job": job}


class ModelActor:
    """Model stage: one open scan (:func:`~microcalc.engine.session.open_scan`) per actor, fed batches
    of prepared images; it stays open for the actor's life."""

    def __init__(self, *, spec: ScanSpec) -> None:
        self._stack = ExitStack()
        plan = replace(spec.plan, bundle=Bundle.load(spec.bundle_dir))
        self.session = self._stack.enter_context(open_scan(plan))
        atexit.register(self._stack.close)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        n = len(batch["status"])
        todo = [i for i in range(n) if batch["status"][i] == TODO]
        results = np.empty(n, dtype=object)
        for i, result in zip(todo, self.session.scanner.scan_prepared(batch["job"][i] for i in todo)):
            # the findings are made; reports do not need the CAMs
            results[i] = result if result.error is not None else replace(result, cams=None)
        runs = np.empty(n, dtype=object)
        runs[:] = [self.session.run] * n
        return {**batch, "job": results, "run": runs, "chosen": np.array([self.session.chosen] * n)}


def write_row(row: dict[str, Any], *, spec: ScanSpec) -> dict[str, Any]:
    """Report stage: the same JSON report and PNG overview (and SR) as ``mc-scan``, then a small
    ledger row."""
    out = {k: row[k] for k in ("index", "path", "stem", "key", "uid", "status", "reason")}
    out.update(chosen=row.get("chosen"), report=None, findings=None)
    if row["status"] != TODO:
        return out
    job = row["job"]
    if job.error is not None:  # e.g. the triage model failed on this image
        return {**out, "status": FAILED, "reason": str(job.error)}
    try:
        written = write_result(job, row["run"], out_dir=Path(spec.out_dir), stem=row["stem"], sr=spec.sr)
    except MicrocalcError as exc:
        return {**out, "status": FAILED, "reason": str(exc)}
    return {
        **out,
        "status": DONE,
        "report": str(written.json),
        "findings": json.dumps(written.report.finding_dicts()),  # the ledger stores JSON: its edge
    }
