"""The one list of backends: each backend module registers itself here, and everything else iterates it.

A backend module ends with ``register(BackendSpec(...))``: its name, the devices it runs on, the
precisions it runs, the ``from_bundle`` constructor that makes an inactive backend from a bundle,
and ``status``, which says whether it can run on this machine without importing its library.
``microcalc/engine/backends/__init__.py`` imports the built-in backend modules, so they are
registered before any of this package is used. Backend selection
(:mod:`~microcalc.engine.backends.selection`), the CLI choices (``--backend``, ``--device``,
``--precision``), ``mc-bench`` and the availability listing read the names from here; adding a
backend is one module that registers itself.

Registering creates nothing and loads no library: each backend imports its library when
activated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from microcalc.engine.backends.base import Backend
from microcalc.errors import MicrocalcError


@dataclass(frozen=True)
class BackendSpec:
    """One backend as the registry knows it.

    Attributes:
        name: what ``--backend`` and ``bundle.json`` call it.
        devices: where it runs (``cpu``, ``cuda``); the first is its default.
        precisions: the precisions it runs (a bundle's ``fp32``/``fp16``/``int8``; torch also ``bf16``).
        from_bundle: ``(bundle, *, precision, device, max_batch, **options) -> Backend`` (inactive).
        status: ``() -> (available, reason)`` on this machine, e.g. ``(False, "no CUDA device")``.
        reference: the slow reference (torch) that ``mc-bench`` measures only when asked.
    """

    name: str
    devices: tuple[str, ...]
    precisions: tuple[str, ...]
    from_bundle: Callable[..., Backend]
    status: Callable[[], tuple[bool, str]]
    reference: bool = False


_SPECS: dict[str, BackendSpec] = {}


def register(spec: BackendSpec) -> BackendSpec:
    """Add ``spec``; a second backend of the same name is a bug (two modules claim one name)."""
    if spec.name in _SPECS and _SPECS[spec.name] != spec:
        raise ValueError(f"backend {spec.name!r} is registered twice")
    _SPECS[spec.name] = spec
    return spec


def names() -> tuple[str, ...]:
    """Every registered backend's name, sorted (the order of help texts and listings)."""
    return tuple(sorted(_SPECS))


def get(name: str) -> BackendSpec:
    """The backend called ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in _SPECS:
        raise MicrocalcError(f"unknown backend {name!r}; expected auto or one of {', '.join(names())}")
    return _SPECS[name]


def devices() -> tuple[str, ...]:
    """``auto`` and every device some backend runs on (``--device``'s choices)."""
    return ("auto", *sorted({d for spec in _SPECS.values() for d in spec.devices}))


def precisions() -> tuple[str, ...]:
    """Every precision some backend runs, in the order the backends list them."""
    return tuple(dict.fromkeys(p for n in names() for p in _SPECS[n].precisions))


def backend_status() -> list[tuple[str, bool, str]]:
    """``(name, available, reason)`` for every backend, e.g. ``("tensorrt", False, "no CUDA device")``."""
    return [(name, *_SPECS[name].status()) for name in names()]


def tile_shape(bundle: Any) -> tuple[int, int, int]:
    """``(1, P, P)``: the one-channel tile every backend of ``bundle`` takes."""
    return (1, bundle.config.patch_size, bundle.config.patch_size)


def onnx_variant(cls: Callable[..., Backend], bundle: Any, *, precision: str, **options: Any) -> Backend:
    """A backend ``cls`` running the bundle's ``precision`` ONNX variant (ONNX Runtime, OpenVINO)."""
    path = bundle.file(bundle.variant(precision=precision))
    return cls(path, input_shape=tile_shape(bundle), precision=precision, **options)
