"""User-facing errors: each carries one line that names the file and the problem.

The command-line tools print ``str(error)`` and exit non-zero; they never show a traceback
for these. Anything else that escapes is a bug in microcalc.
"""

from __future__ import annotations

import importlib
from types import ModuleType


class MicrocalcError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


class InputError(MicrocalcError):
    """An input file is unreadable, malformed or unsupported."""


class MissingDependencyError(MicrocalcError):
    """An optional library is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python module '{module}', which is not installed: "
            f'pip install "microcalc[{extra}]"'
        )
        self.module = module
        self.extra = extra


def import_optional(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import an optional library where it is first needed (a backend's ``_activate_impl``, the SR
    writer, mc-serve, the Ray driver), so a missing one fails with the pip extra that installs it.

    It lives beside :class:`MissingDependencyError` so that layers above inference (the SR writer)
    need not import the backend package to get it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(module, extra, purpose) from exc


class StaleArtifactError(MicrocalcError):
    """A bundle file does not match its manifest (hash, library version or device)."""


class InternalError(Exception):
    """A bug in microcalc met while handling one input: not the input's fault, not a corrupt file.

    A batch reports it as that input's one-line error (the message says it is a bug) and goes
    on; it is not a :class:`MicrocalcError` because the user cannot fix it by changing the input.
    """


def is_foreign_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a panic of a native (Rust/pyo3) extension, e.g. a pylibjpeg decoder's.

    pyo3's ``PanicException`` derives from ``BaseException`` and lives in a module that pyo3
    creates at run time (``pyo3_runtime``), so it can only be recognised by name.
    """
    kind = type(exc)
    return kind.__name__ == "PanicException" and kind.__module__ == "pyo3_runtime"


def one_line(exc: BaseException, *, limit: int = 300) -> str:
    """``Type: message`` on one line (native messages carry newlines), at most ``limit`` characters."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_INPUT_FAULTS = (OSError, ValueError, EOFError, NotImplementedError)


def read_failure(path: object, exc: BaseException) -> MicrocalcError | InternalError:
    """What reading ``path`` failing with ``exc`` means, as one line naming the file.

    A :class:`MicrocalcError` stays as it is. ``OSError``, ``ValueError``, ``EOFError`` and
    ``NotImplementedError`` (what decoders raise for corrupt data) and native panics are the
    input's fault (:class:`InputError`). Anything else, ``AttributeError`` and ``TypeError`` first,
    is a bug in the reader (:class:`InternalError`), never reported as a corrupt file. Callers
    re-raise ``SystemExit`` and ``KeyboardInterrupt`` instead of asking.
    """
    if isinstance(exc, (MicrocalcError, InternalError)):
        return exc
    if isinstance(exc, _INPUT_FAULTS):
        return InputError(f"{path}: cannot read the image ({one_line(exc)})")
    if is_foreign_panic(exc):
        return InputError(f"{path}: the decoder panicked ({one_line(exc)})")
    return InternalError(
        f"{path}: internal error in the reader ({one_line(exc)}); this is a bug in microcalc, "
        "not a problem with the file"
    )
