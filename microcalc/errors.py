"""User-facing errors: each carries one line that names the file and the problem.

The command-line tools print ``str(error)`` and exit non-zero; they never show a traceback
for these. Anything else that escapes is a bug in microcalc.
"""

from __future__ import annotations


class MicrocalcError(Exception):
    """Base class for errors caused by the user's input or environment, not by a bug."""


class InputError(MicrocalcError):
    """An input file is unreadable, malformed or unsupported."""


class MissingDependencyError(MicrocalcError):
    """An optional library is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the Python module '{module}', which is not installed: "
            f"pip install \"microcalc[{extra}]\""
        )
        self.module = module
        self.extra = extra


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
