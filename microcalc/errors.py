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
