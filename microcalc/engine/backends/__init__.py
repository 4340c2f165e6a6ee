"""Inference backends behind one interface (:class:`~microcalc.engine.backends.base.Backend`).

Importing the package imports each built-in backend module, which registers itself in
:mod:`~microcalc.engine.backends.registry` (no backend library is loaded: each imports its own
when activated).
"""

from microcalc.engine.backends import onnxruntime, openvino, tensorrt, torch  # noqa: F401 (they register)
