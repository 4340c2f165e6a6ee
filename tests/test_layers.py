"""The package's layering holds: import-linter's contracts in pyproject.toml (no import circles in
microcalc; the engine imports nothing from the layers that use it; no module imports a command-line
module), and the Python version the project claims is one it can run on."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# names that ``typing`` gained in Python 3.11: importing one at run time needs 3.11 or later
TYPING_311 = {
    "Self",
    "LiteralString",
    "Never",
    "assert_never",
    "assert_type",
    "reveal_type",
    "Required",
    "NotRequired",
    "TypeVarTuple",
    "Unpack",
    "dataclass_transform",
    "get_overloads",
    "clear_overloads",
}


def test_import_contracts_are_kept():
    pytest.importorskip("importlinter", reason="import-linter is not installed (pip install -e '.[dev]')")
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; c()"],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_cuda_stream_marks_are_the_backend_stages():
    """cuda_memory writes the stage names out (importing them would close a circle): they must agree."""
    from microcalc.engine.backends.base import STAGES
    from microcalc.engine.cuda_memory import MARKS

    assert MARKS == ("start", *STAGES)


def _oldest_claimed() -> tuple[int, int]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    claim = re.fullmatch(r">=\s*3\.(\d+)", project["project"]["requires-python"])
    assert claim, "requires-python must be a plain lower bound such as >=3.11"
    return 3, int(claim.group(1))


def test_the_python_claim_is_true():
    """The oldest Python claimed is at least what the code needs (typing names imported at run time)
    and what ruff checks the code for; this suite runs on that version or a newer one."""
    oldest = _oldest_claimed()
    assert sys.version_info[:2] >= oldest
    ruff = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["ruff"]["target-version"]
    assert ruff == f"py3{oldest[1]}"
    needs_311 = []
    for path in sorted((ROOT / "microcalc").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "typing":
                needs_311 += [f"{path.name}: {a.name}" for a in node.names if a.name in TYPING_311]
    assert not needs_311 or oldest >= (3, 11), needs_311


def test_the_readme_layout_lists_every_package():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Project layout") :]
    packages = sorted(p.parent.name for p in (ROOT / "microcalc").glob("*/__init__.py"))
    assert [p for p in packages if f"\n  {p}/" not in layout] == []
