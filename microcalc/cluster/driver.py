"""The driver of ``mc-scan --ray``: joins the cluster, streams the scan, keeps the ledger, sums up.

Ray Data executes the three stages of :mod:`microcalc.cluster.workers` as a stream with
backpressure; the driver only receives one small row per input. It appends finished rows to the
ledger every ``FLUSH_ROWS`` rows or ``FLUSH_S`` seconds (and on any exit), after their reports
are on disk, so a run killed at any point loses at most the unrecorded images, which the next
run redoes. Decode tasks are spread over the nodes; the model actors take one GPU each when the
cluster has GPUs, else one CPU each.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from microcalc.cluster import require_ray
from microcalc.cluster.inputs import scan_inputs
from microcalc.cluster.ledger import DONE, ERRORS_FILE, FAILED, FINDINGS_FILE, SKIPPED, Ledger
from microcalc.cluster.workers import ModelActor, ScanSpec, prepare_row, write_row
from microcalc.engine.report import unique_stems
from microcalc.engine.session import ScanPlan
from microcalc.errors import MicrocalcError, one_line

FLUSH_ROWS = 64
FLUSH_S = 10.0
IMAGES_PER_CALL = 4  # images per model-actor call: enough for its ring to overlap copies with compute
MAX_BLOCKS = 10_000  # input blocks; a block's images are prepared by one task
DECODE_MEMORY = 512 * 2**20  # peak of decoding a 4096x3328 16-bit mammogram (stored, float LUTs, 8-bit)


@dataclass
class Tally:
    """What one run did, for the summary line (``findings`` counts this run's new findings)."""

    done: int = 0
    skipped: int = 0
    failed: int = 0
    findings: int = 0
    wall_s: float = 0.0

    @property
    def rate(self) -> float:
        return (self.done + self.failed) / self.wall_s if self.wall_s > 0 else 0.0


def connect(ray: Any, address: str) -> None:
    """Join the cluster at ``address``; ``auto`` joins a running one or starts a local one."""
    if ray.is_initialized():
        return
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address == "auto":
            try:
                ray.init(address="auto", **quiet)
            except ConnectionError:
                ray.init(include_dashboard=False, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise MicrocalcError(
            f"cannot join the Ray cluster at {address} ({one_line(exc)}); check the address, and for "
            "a cluster with token authentication set RAY_AUTH_MODE=token and its token"
        ) from exc


def plan_actors(resources: dict[str, float], actors: int | None) -> tuple[int, float]:
    """Model actors and GPUs per actor: one per GPU by default, else one (CPU) actor.

    On a CPU cluster each actor holds a CPU, so at least one CPU must stay free for decoding.
    """
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 0))
    n = actors if actors is not None else max(1, gpus)
    if n < 1:
        raise MicrocalcError(f"--actors must be at least 1, got {n}")
    if not gpus and n >= cpus:
        raise MicrocalcError(
            f"--actors {n} would hold all {cpus} CPUs of the Ray cluster; decoding needs one more"
        )
    return n, 1.0 if gpus else 0.0


def build_dataset(
    ray: Any,
    items: list[dict[str, Any]],
    *,
    spec: ScanSpec,
    ledger: Ledger,
    actors: int,
    gpus_per_actor: float,
) -> Any:
    """The stream: inputs -> prepare (CPU tasks) -> model (actor pool) -> write (CPU tasks)."""
    import ray.data

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    ds = ray.data.from_items(items, override_num_blocks=min(len(items), MAX_BLOCKS))
    # Ray Data spreads the decode tasks over the nodes. Their memory request, which the actors do
    # not make, also keeps Ray Data from fusing them into the actors (decoding behind inference).
    ds = ds.map(prepare_row, fn_kwargs={"spec": spec, "done": ledger.load()}, memory=DECODE_MEMORY)
    ds = ds.map_batches(
        ModelActor,
        fn_constructor_kwargs={"spec": spec},
        batch_size=IMAGES_PER_CALL,
        batch_format="numpy",
        compute=ray.data.ActorPoolStrategy(size=actors),
        num_gpus=gpus_per_actor or None,
        num_cpus=1,
    )
    return ds.map(write_row, fn_kwargs={"spec": spec})


def scan_on_ray(
    inputs: list[str],
    *,
    address: str,
    plan: ScanPlan,
    out_dir: Path,
    sr: bool,
    actors: int | None,
    console: Console,
) -> Tally:
    """Scan ``inputs`` (files, folders, globs, manifests) on the cluster with ``plan`` (the one
    :func:`~microcalc.engine.session.plan_scan` made for ``mc-scan``); see the module docstring."""
    ray = require_ray()
    paths = scan_inputs(inputs)
    spec = ScanSpec(
        plan=plan, bundle_dir=str(Path(plan.bundle.path).resolve()), out_dir=str(out_dir.resolve()), sr=sr
    )
    items = [
        {"index": i, "path": str(p.resolve() if p.exists() else p), "stem": stem}
        for i, (p, stem) in enumerate(zip(paths, unique_stems(paths)))
    ]
    connect(ray, address)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # our progress and summary replace its lines
    n_actors, gpus_per_actor = plan_actors(ray.cluster_resources(), actors)
    say = _printer(console)
    say(
        f"mc-scan: {len(items)} input(s) on Ray {ray.__version__}, {n_actors} model actor(s)"
        f"{' with a GPU each' if gpus_per_actor else ' on CPUs'}"
    )
    ledger = Ledger(out_dir)
    ds = build_dataset(ray, items, spec=spec, ledger=ledger, actors=n_actors, gpus_per_actor=gpus_per_actor)
    tally = _stream(ray, ds, ledger, total=len(items), console=console)
    findings_rows, error_rows = ledger.compile()
    say(
        f"mc-scan: {tally.done} done, {tally.skipped} skipped (done before), {tally.failed} failed, "
        f"{tally.findings} finding(s); {tally.wall_s:.1f} s, {tally.rate:.2f} images/s"
    )
    say(
        f"mc-scan: {out_dir / FINDINGS_FILE} ({findings_rows} findings), {out_dir / ERRORS_FILE} "
        f"({error_rows} failed inputs), over every run into {out_dir}"
    )
    return tally


def _stream(ray: Any, ds: Any, ledger: Ledger, *, total: int, console: Console) -> Tally:
    """Consume the stream: progress, one-line errors, ledger parts after their reports are written."""
    tally, pending, chosen = Tally(), [], None
    say = _printer(console)
    counts = Counter()
    progress = Progress(
        TextColumn("scanning on Ray"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.description}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )
    start = last_flush = time.perf_counter()
    try:
        with progress:
            task = progress.add_task("", total=total)
            for row in ds.iter_rows():
                status = row["status"]
                counts[status] += 1
                if chosen is None and _text(row.get("chosen")):
                    chosen = row["chosen"]
                    say(f"mc-scan: model actors run {chosen}")
                if status == FAILED:
                    say(f"mc-scan: error: {row['reason']}")
                if status == DONE:
                    tally.findings += len(_findings(row))
                if status != SKIPPED:
                    pending.append(_ledger_row(row))
                if len(pending) >= FLUSH_ROWS or time.perf_counter() - last_flush > FLUSH_S:
                    ledger.append(pending)
                    pending, last_flush = [], time.perf_counter()
                progress.update(
                    task,
                    advance=1,
                    description=f"{counts[DONE]} done, {counts[SKIPPED]} skipped, {counts[FAILED]} failed",
                )
    except ray.exceptions.RayError as exc:
        raise MicrocalcError(
            f"the Ray scan stopped ({one_line(exc)}); rerun the same command to go on"
        ) from exc
    finally:
        ledger.append(pending)
        tally.wall_s = time.perf_counter() - start
        tally.done, tally.skipped, tally.failed = counts[DONE], counts[SKIPPED], counts[FAILED]
    return tally


def _findings(row: dict[str, Any]) -> list[Any]:
    return json.loads(_text(row["findings"]) or "[]")


def _text(value: Any) -> str | None:
    """A string column's value; Ray Data may hand an all-empty column back as NaN."""
    return value if isinstance(value, str) and value else None


def _ledger_row(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "key": _text(row["key"]) or "",
        "sop_instance_uid": _text(row["uid"]),
        "input": row["path"],
        "status": row["status"],
        "reason": _text(row["reason"]),
        "report": _text(row["report"]),
        "findings": _text(row["findings"]),
    }


def _printer(console: Console) -> Any:
    return lambda line: console.print(line, highlight=False, markup=False, soft_wrap=True)
