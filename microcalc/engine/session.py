"""One place that opens a scan, for every command that scans (as timm builds every model through
``build_model_with_cfg``).

``mc-scan``, its ``--ray`` model actors and decode tasks, ``mc-froc``, ``mc-serve`` and
``mc-bench``'s scan stage all open their scan here, so they cannot drift apart in what they run:

* :func:`plan_scan`: what is decided before any model loads (operating point and
  :class:`~microcalc.engine.settings.ScanSettings` from the command's options, triage wanted or
  not, how files are read). A :class:`ScanPlan` is frozen and picklable: ``--ray`` ships it.
* :func:`open_scan`: the triage model, the backend (chosen and created), the :class:`RunInfo` its
  reports share, the reader (decoding in a killable worker process unless ``isolation="none"``)
  and the :class:`~microcalc.engine.pipeline.Scanner`; the first of ``paths`` starts decoding
  while the backend activates.
* :func:`open_reader`: the reader alone, for processes that only decode (Ray's decode tasks).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from microcalc.bundle import Bundle
from microcalc.engine.backends.base import Backend
from microcalc.engine.jobs import ScanInputs
from microcalc.engine.pipeline import Scanner
from microcalc.engine.read_guard import Reader
from microcalc.engine.report import RunInfo
from microcalc.engine.scan_options import settings_from_options
from microcalc.engine.scan_result import ScanResult
from microcalc.engine.settings import ScanSettings
from microcalc.engine.triage import Triage
from microcalc.errors import InputError
from microcalc.imaging import read_mammogram
from microcalc.imaging.isolated import IsolatedReader
from microcalc.operating_points import ChosenPoint

ISOLATION_CHOICES = ("process", "none")


@dataclass(frozen=True)
class ScanPlan:
    """What a scan runs with, decided before any model loads (see the module docstring).

    ``triage``: whether the bundle's triage model runs; ``force``: read DICOM images that are not
    mammograms; ``isolation``: ``process`` decodes in a worker process killed on a hang or crash,
    ``none`` in the scanning process.
    """

    bundle: Bundle
    point: ChosenPoint
    settings: ScanSettings
    backend: str = "auto"
    precision: str = "auto"
    triage: bool = False
    force: bool = False
    isolation: str = "process"

    @property
    def patch_size(self) -> int:
        return int(self.bundle.config.patch_size)


def plan_scan(
    bundle: Bundle, options: Mapping[str, Any], *, force: bool = False, isolation: str = "process"
) -> ScanPlan:
    """The plan that a command's options ask for (parameter names as in
    :mod:`~microcalc.engine.scan_options`); ``--triage`` on a bundle without one is refused here,
    before anything loads."""
    if isolation not in ISOLATION_CHOICES:
        raise InputError(f"isolation must be one of {', '.join(ISOLATION_CHOICES)}, got {isolation!r}")
    wanted = options.get("triage")
    if wanted and bundle.triage is None:
        Triage.from_bundle(bundle, wanted=True)  # raises the one line that says how to add one
    point, settings = settings_from_options(bundle, options)
    return ScanPlan(
        bundle=bundle,
        point=point,
        settings=settings,
        backend=options.get("backend", "auto"),
        precision=options.get("precision", "auto"),
        triage=bundle.triage is not None if wanted is None else bool(wanted),
        force=force,
        isolation=isolation,
    )


def open_reader(plan: ScanPlan) -> AbstractContextManager[Reader]:
    """The plan's file reader as a context manager: an :class:`IsolatedReader` (``isolation="process"``)
    or ``read_mammogram`` in this process. It does not check the size: that is judged on the
    scanned grid (:func:`~microcalc.engine.prepare.prepare`)."""
    read = partial(read_mammogram, force=plan.force)
    if plan.isolation == "process":
        return IsolatedReader(read, timeout_s=plan.settings.decode_timeout_s)
    return nullcontext(read)


def model_identity(bundle: Bundle, backend: str, precision: str) -> dict[str, str]:
    """The identity of the model file ``backend`` runs at ``precision``: name, precision, SHA-256."""
    if backend == "torch":
        return {"name": "checkpoint", "precision": precision, "sha256": bundle.source_sha256 or ""}
    variant = bundle.variant(precision=precision, fmt="tensorrt" if backend == "tensorrt" else "onnx")
    return {"name": variant.name, "precision": variant.precision, "sha256": variant.sha256}


def open_backend(
    name: str, precision: str, bundle: Bundle, *, max_batch: int
) -> tuple[Any, dict[str, str], str]:
    """Resolve ``auto`` choices (:mod:`~microcalc.engine.backends.selection`), create the backend (inactive).

    Returns the backend, the identity of the model file it runs (:func:`model_identity`) and one
    line saying what was chosen and why.
    """
    from microcalc.engine.backends import selection

    choice = selection.resolve(name, precision, bundle=bundle)
    backend = selection.create_backend(
        choice.backend, bundle, precision=choice.precision, max_batch=max_batch, device=choice.device
    )
    model = model_identity(bundle, choice.backend, choice.precision)
    return backend, model, f"{choice.backend} {choice.precision} on {choice.device} ({choice.reason})"


def run_info(plan: ScanPlan, backend: Backend, model: dict[str, str]) -> RunInfo:
    """What every report of a run with ``plan`` on ``backend`` shares."""
    settings, config = plan.settings, plan.bundle.config
    return RunInfo(
        bundle=str(plan.bundle.path),
        model_sha256=model["sha256"],
        arch=config.arch,
        patch_size=config.patch_size,
        variant=model["name"],
        backend=backend.name,
        precision=model["precision"],
        threshold=settings.threshold,
        overlap=settings.overlap,
        min_breast=settings.min_breast,
        batch_size=settings.batch_size,
        operating_point=plan.point.to_dict(),
        runtime=backend.runtime(),
    )


@dataclass(frozen=True)
class ScanSession:
    """An open scan: an active ``backend`` behind ``scanner``, and what its reports share (``run``)."""

    plan: ScanPlan
    backend: Backend
    run: RunInfo
    chosen: str
    triage: Triage | None
    reader: Reader
    scanner: Scanner
    inputs: ScanInputs

    def scan(self, paths: Iterable[Path] | None = None) -> Iterator[ScanResult]:
        """Scan ``paths``; ``None``: the paths given to :func:`open_scan` (the first already decoding)."""
        return self.scanner.scan(self.inputs if paths is None else paths)


@contextmanager
def open_scan(
    plan: ScanPlan,
    *,
    paths: Sequence[Path] = (),
    say: Callable[[str], None] | None = None,
    backend: tuple[Backend, dict[str, str], str] | None = None,
) -> Iterator[ScanSession]:
    """Open the scan that ``plan`` describes; inside, the backend is active (see the module docstring).

    Args:
        plan: from :func:`plan_scan`.
        paths: what :meth:`ScanSession.scan` scans without arguments; the first starts decoding now,
            while the backend activates.
        say: gets the lines naming the backend chosen, the operating point and the triage.
        backend: an inactive backend, its :func:`model_identity` and its line, for a caller that
            creates its own (``mc-bench``'s backend specs); by default :func:`open_backend`'s choice.
    """
    triage = Triage.from_bundle(plan.bundle, wanted=plan.triage)
    runner, model, chosen = backend or open_backend(
        plan.backend, plan.precision, plan.bundle, max_batch=plan.settings.batch_size
    )
    for line in (
        f"backend {chosen}",
        plan.point.describe(),
        f"triage: on, threshold {triage.entry.threshold:.4g}" if triage else "triage: off",
    ):
        if say is not None:
            say(line)
    settings = plan.settings
    with ExitStack() as stack:
        reader = stack.enter_context(open_reader(plan))
        inputs = stack.enter_context(
            ScanInputs(paths, reader=reader, settings=settings, patch_size=plan.patch_size, early=True)
        )
        stack.enter_context(runner)  # loads (or compiles) the model while the first image decodes
        if triage is not None:
            triage.warm_up()  # and warms the triage model, so the first image's triage is not a cold one
        yield ScanSession(
            plan=plan,
            backend=runner,
            run=run_info(plan, runner, model),
            chosen=chosen,
            triage=triage,
            reader=reader,
            scanner=Scanner(runner, reader=reader, settings=settings, triage=triage),
            inputs=inputs,
        )
