"""What ``mc-scan --ray`` scans: files, folders and globs as ``mc-scan``, or manifests.

A manifest is a ``.csv`` or ``.parquet`` table with a ``path`` column, the usual export of an
archive query (one row per image). Relative paths are taken from the manifest's folder, so a
manifest can travel with its images. Other columns are ignored.
"""

from __future__ import annotations

import csv
from pathlib import Path

from microcalc.engine.inputs import expand_inputs
from microcalc.errors import InputError

MANIFEST_SUFFIXES = frozenset({".csv", ".parquet"})
PATH_COLUMN = "path"


def read_manifest(manifest: Path) -> list[str]:
    """The non-empty ``path`` entries of a manifest, relative ones resolved against its folder."""
    try:
        if manifest.suffix.lower() == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(manifest)
            if PATH_COLUMN not in table.column_names:
                raise InputError(
                    f"{manifest}: no '{PATH_COLUMN}' column (columns: {', '.join(table.column_names)})"
                )
            entries = [str(v) for v in table.column(PATH_COLUMN).to_pylist() if v is not None]
        else:
            with manifest.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if PATH_COLUMN not in (reader.fieldnames or []):
                    header = ", ".join(reader.fieldnames or [])
                    raise InputError(f"{manifest}: no '{PATH_COLUMN}' column (header: {header})")
                entries = [row[PATH_COLUMN] for row in reader if row[PATH_COLUMN]]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{manifest}: cannot read the manifest ({type(exc).__name__}: {exc})") from exc
    except ValueError as exc:  # pyarrow.ArrowInvalid: not a parquet file
        raise InputError(f"{manifest}: cannot read the manifest ({exc})") from exc
    return [
        entry if Path(entry).is_absolute() else str(manifest.parent / entry)
        for entry in (e.strip() for e in entries)
        if entry
    ]


def scan_inputs(args: list[str]) -> list[Path]:
    """The images to scan, in argument order: manifests replaced by their entries, then expanded."""
    flat: list[str] = []
    for arg in args:
        path = Path(arg).expanduser()
        flat.extend(
            read_manifest(path) if path.suffix.lower() in MANIFEST_SUFFIXES and path.is_file() else [arg]
        )
    return expand_inputs(flat)
