"""microcalc.atomic: the one temporary-file-then-rename writer every output goes through."""

import json
import re
import stat
from pathlib import Path

import pytest

from microcalc.atomic import (
    atomic_path,
    write_atomic,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_writes_text_bytes_json_readable_by_others(tmp_path):
    write_text_atomic(tmp_path / "a" / "t.txt", "hello\n")  # the parent folder is created
    write_bytes_atomic(tmp_path / "b.bin", b"\x00\x01")
    write_json_atomic(tmp_path / "c.json", {"x": [1, 2]})
    assert (tmp_path / "a" / "t.txt").read_text() == "hello\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01"
    assert json.loads((tmp_path / "c.json").read_text()) == {"x": [1, 2]}
    assert stat.S_IMODE((tmp_path / "c.json").stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b.bin", "c.json"]


def test_durable_write_through_a_file_object(tmp_path):
    write_atomic(tmp_path / "part.bin", lambda f: f.write(b"abc"), durable=True)
    assert (tmp_path / "part.bin").read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["part.bin"]


def test_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "report.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_no_hand_written_temp_then_rename_left_in_the_package():
    """Every temporary-file write goes through microcalc.atomic (folders too: staging_dir, commit_dir)."""
    root = Path(__file__).resolve().parents[1] / "microcalc"
    pattern = re.compile(r"mkstemp\(|with_name\(f?\"\.[^\"]*\.tmp|os\.replace\(tmp")
    offenders = sorted(
        str(path.relative_to(root.parent))
        for path in root.rglob("*.py")
        if path.name != "atomic.py" and pattern.search(path.read_text())
    )
    assert offenders == []
