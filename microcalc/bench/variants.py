"""Which backend runs which variant: a thin layer over :mod:`microcalc.engine.backends.registry`.

``mc-bench`` asks for every backend by name and records why one cannot run here (library
missing, no GPU, variant absent from the bundle) rather than dropping it silently.
"""

from __future__ import annotations

from typing import Any

from microcalc.errors import MicrocalcError


def start_backend(name: str, bundle: Any, *, precision: str, max_batch: int) -> Any:
    """An active backend for ``bundle``'s ``precision`` variant (the caller deactivates it).

    Raises:
        MicrocalcError: the backend cannot run here; the message says why.
    """
    from microcalc.engine.backends import registry

    try:
        backend = registry.create_backend(name, bundle, precision=precision, max_batch=max_batch)
        backend.activate()
        return backend
    except MicrocalcError:
        raise
    except (ImportError, OSError, RuntimeError, ValueError) as exc:
        raise MicrocalcError(f"{name} {precision}: {type(exc).__name__}: {exc}") from exc
