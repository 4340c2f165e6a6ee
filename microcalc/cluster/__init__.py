"""Archive-scale scanning on Ray Data: ``mc-scan INPUT... --ray auto|ADDRESS``.

The single-process scanner's pieces run as Ray Data stages: decoding, breast mask and tile grid
as CPU tasks (:func:`microcalc.engine.prepare.prepare`), the model in a pool of actors that
each load the bundle once (:class:`~microcalc.engine.pipeline.Scanner` on prepared jobs), the
per-image reports as CPU tasks (:mod:`microcalc.engine.report`). A ledger in the output folder
records what is done, so a rerun skips it and a killed run loses and duplicates nothing.

Ray is an optional dependency (``pip install "microcalc[cluster]"``); it is imported only here,
only when ``--ray`` is given. The edge runtime never needs it.
"""

from __future__ import annotations

from types import ModuleType

from microcalc.errors import import_optional


def require_ray() -> ModuleType:
    """Import Ray Data, or fail with one line that names the extra to install."""
    import_optional("pyarrow", extra="cluster", purpose="mc-scan --ray")
    import_optional("ray.data", extra="cluster", purpose="mc-scan --ray")
    return import_optional("ray", extra="cluster", purpose="mc-scan --ray")
