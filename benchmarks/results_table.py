"""RESULTS.md's status table of the CPU benchmarks, generated from the recorded mc-bench reports.

Every ``mc-bench --out`` report in ``benchmarks/results/`` (schema ``microcalc-bench``) is one row:
the model, the host kind it ran on (CPU model, the flags that choose the kernels: VNNI, AMX, and
the cores), when and under what load, the fastest variant that passed parity against the PyTorch
eager baseline, and the pipeline efficiency of the single scan and of the worklist (wall time; the
CPU-time figure beside it where the report has one). Figures live in the JSON, not in prose, so
hosts compare. Issue 26.

    python benchmarks/results_table.py           # print the table
    python benchmarks/results_table.py --write   # replace it in RESULTS.md, between the markers
    python benchmarks/results_table.py --check   # exit 1 when RESULTS.md's table is stale (a test)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
DOC = HERE / "RESULTS.md"
BEGIN, END = "<!-- status-table:begin (benchmarks/results_table.py --write) -->", "<!-- status-table:end -->"
KERNEL_FLAGS = ("amx_int8", "amx_bf16", "avx512_vnni", "avx_vnni", "avx512_bf16")


def _host(cpu: dict[str, Any]) -> str:
    flags = [f for f in KERNEL_FLAGS if f in cpu.get("flags", [])]
    amx = "AMX" if "amx_int8" in flags else "no AMX"
    cores = f"{cpu.get('physical_cores', '?')} cores"
    return f"{cpu.get('model', '?')}, {cores}, {amx} ({', '.join(flags) or 'no VNNI'})"


def _best(report: dict[str, Any]) -> str:
    passing = [r for r in report.get("runs", []) if _passed(r.get("parity") or {})]
    if not passing:
        return "no variant passed parity"
    best = max(passing, key=lambda r: r["patches_per_s"])
    variant = f"{best['backend']} {best['precision']} b{best['batch_size']}"
    return f"{variant}: {best['patches_per_s']:.2f} patches/s, {best['speedup_vs_baseline']:.1f}x"


def _passed(parity: dict[str, Any]) -> bool:
    """The verdict (``passed``; ``pass`` in reports of 2026-11-22)."""
    return bool(parity.get("passed", parity.get("pass")))


def _eff(part: dict[str, Any] | None) -> str:
    if not part:
        return "-"
    cpu = part.get("cpu_efficiency")
    return f"{part['efficiency']:.3f}" + (f" (CPU {cpu:.3f})" if cpu is not None else "")


def _load(report: dict[str, Any]) -> str:
    load = report.get("machine", {}).get("load_average")
    return f"{load[0]:.1f}" if load else "not recorded"


def row(path: Path, report: dict[str, Any]) -> list[str]:
    """One table row for the report at ``path``."""
    model, scan = report.get("model", {}), report.get("scan") or {}
    triage = scan.get("triage")
    scanned = f"{scan['tiles']} tiles" if scan else "no scan"
    if triage:
        scanned += f" (triage skipped {triage['skipped']} of {triage['tiles']})"
    md = path.with_suffix(".md")
    name = f"[`{path.stem}`](results/{md.name})" if md.is_file() else f"`{path.name}`"
    return [
        name,
        f"{model.get('arch', '?')} {model.get('patch_size', '?')} px",
        _host(report.get("machine", {}).get("cpu", {})),
        str(report.get("created", "?"))[:10],
        _load(report),
        _best(report),
        scanned,
        _eff(scan),
        _eff(scan.get("stream")),
    ]


def table(results: Path = RESULTS) -> str:
    """The Markdown table of every mc-bench report under ``results``, newest first."""
    rows = []
    for path in sorted(results.glob("*.json")):
        report = json.loads(path.read_text(encoding="utf-8"))
        if report.get("schema") == "microcalc-bench":
            rows.append((str(report.get("created", "")), row(path, report)))
    header = [
        "report",
        "model",
        "host kind",
        "date",
        "load",
        "fastest passing variant (x PyTorch eager FP32)",
        "scan",
        "single-scan efficiency",
        "worklist efficiency",
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for _, r in sorted(rows, key=lambda x: x[0], reverse=True)]
    return "\n".join(lines)


def replaced(doc: str, new_table: str) -> str:
    """``doc`` with the text between the markers replaced by ``new_table``."""
    if BEGIN not in doc or END not in doc:
        raise SystemExit(f"{DOC}: the markers {BEGIN!r} and {END!r} are missing")
    head, rest = doc.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{new_table}\n{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write", action="store_true", help="rewrite the table in RESULTS.md")
    mode.add_argument("--check", action="store_true", help="exit 1 when RESULTS.md's table is stale")
    args = parser.parse_args(argv)
    new_table = table()
    if not (args.write or args.check):
        print(new_table)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    updated = replaced(doc, new_table)
    if args.check:
        if updated != doc:
            print(f"{DOC}: the status table is stale; run python benchmarks/results_table.py --write")
            return 1
        return 0
    DOC.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
