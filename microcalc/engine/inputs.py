"""Expanding ``mc-scan`` arguments (files, folders, globs) into the list of images to scan.

Folders are searched recursively for DICOM, PNG and TIFF files; DICOM files often have no
suffix, so suffix-less files are taken too (the reader refuses what is not an image). Hidden
files are skipped. An argument that matches nothing is kept as it is, so that the scan reports
it as one failed input instead of silently ignoring it.
"""

from __future__ import annotations

import glob
from pathlib import Path

IMAGE_SUFFIXES = frozenset({".dcm", ".dicom", ".dic", ".png", ".pgm", ".tif", ".tiff", ""})


def _is_candidate(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def expand_inputs(args: list[str]) -> list[Path]:
    """Files in argument order; folders and globs expanded in sorted order, duplicates removed."""
    out: list[Path] = []
    for arg in args:
        path = Path(arg).expanduser()
        if path.is_dir():
            out.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if _is_candidate(p)
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        elif not path.exists() and glob.has_magic(arg):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            found = [m for m in matches if _is_candidate(m)]
            out.extend(found or [path])
        else:
            out.append(path)
    seen: set[Path] = set()
    unique = []
    for path in out:
        key = path.resolve() if path.exists() else path
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique
