"""The report as Markdown tables for people (``benchmarks/RESULTS.md`` includes them verbatim).

Every figure is rendered from the JSON report alone, so tables can be regenerated from a saved
report; targets are parameters and a missed target is printed as MISSED, never hidden.
"""

from __future__ import annotations

from typing import Any

from microcalc.bench.targets import fmt, target_lines
from microcalc.engine.backends.base import STAGES


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _machine(m: dict[str, Any]) -> list[str]:
    gpus = (
        "; ".join(f"{g['name']} (driver {g['driver']}, {g['memory']})" for g in m.get("gpus") or []) or "none"
    )
    libs = ", ".join(f"{k} {v}" for k, v in (m.get("libraries") or {}).items())
    return [
        f"- CPU: {m['cpu']['summary']}",
        f"- GPU: {gpus}",
        f"- OS: {m.get('os')}, Python {m.get('python')}",
        *([f"- Load average at the start (1/5/15): {m['load_average']}"] if m.get("load_average") else []),
        f"- Libraries: {libs}",
    ]


def _throughput(report: dict[str, Any]) -> list[str]:
    base = report["baseline"]
    rows = [
        [
            "pytorch eager (baseline)",
            "fp32",
            "1",
            fmt(base["patches_per_s"], ".2f"),
            fmt(base["latency_ms"]["p50"], ".1f"),
            fmt(base["latency_ms"]["p90"], ".1f"),
            fmt(base["latency_ms"]["p99"], ".1f"),
            "",
            "1.00x",
            "reference",
        ]
    ]
    for r in report["runs"]:
        st, p99 = r.get("stages_ms") or {}, r.get("stages_p99_ms") or {}
        copies = "h2d" in st or "d2h" in st  # only GPU backends time copies; on a CPU it is all compute
        gpu = " / ".join(fmt(st.get(k), ".2f") for k in STAGES) if copies else ""
        if copies and p99:
            gpu += " (p99 " + " / ".join(fmt(p99.get(k), ".2f") for k in STAGES) + ")"
        parity = r.get("parity") or {}
        verdict = "pass" if parity.get("passed") else "FAIL" if parity else "n/a"
        rows.append(
            [
                r["backend"],
                r["precision"],
                str(r["batch_size"]),
                fmt(r["patches_per_s"], ".2f"),
                fmt(r["latency_ms"]["p50"], ".1f"),
                fmt(r["latency_ms"]["p90"], ".1f"),
                fmt(r["latency_ms"]["p99"], ".1f"),
                gpu,
                fmt(r["speedup_vs_baseline"], ".2f") + "x",
                verdict,
            ]
        )
    return _table(
        [
            "backend",
            "precision",
            "batch",
            "patches/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "h2d / compute / d2h ms",
            "x baseline",
            "parity",
        ],
        rows,
    )


def _parity(report: dict[str, Any]) -> list[str]:
    rows, seen = [], set()
    for r in report["runs"]:
        key = (r["backend"], r["precision"])
        p = r.get("parity")
        if key in seen or p is None:
            continue
        seen.add(key)
        delta = p.get("delta_auc")
        rows.append(
            [
                r["backend"],
                r["precision"],
                fmt(p["max_abs_diff"]),
                fmt(p["mean_abs_diff"]),
                fmt(p["label_agreement"], ".2%") if p["label_agreement"] is not None else "n/a",
                fmt(p["auc"], ".4f"),
                fmt(delta, "+.4f") if delta is not None else "n/a",
                "pass" if p["passed"] else "FAIL: " + "; ".join(p.get("failures", [])),
            ]
        )
    return _table(
        [
            "backend",
            "precision",
            "max abs dp",
            "mean abs dp",
            "label agreement",
            "AUC",
            "delta AUC",
            "verdict",
        ],
        rows,
    )


def _efficiency(part: dict[str, Any]) -> str:
    """Wall-time efficiency, and the CPU-time one where the report has it (reports since issue 26)."""
    cpu = part.get("cpu_efficiency")
    return fmt(part["efficiency"], ".3f") + (f" (CPU {cpu:.3f})" if cpu is not None else "")


def _stream_model_only(scan: dict[str, Any], stream: dict[str, Any]) -> str:
    if "model_only_ms" in stream:  # the worklist's own model-only run, per image
        return fmt(stream["model_only_ms"] / stream["images"], ".0f") + " per image"
    return fmt(scan["model_only_ms"], ".0f") + " (one image)"


def _scan(scan: dict[str, Any]) -> list[str]:
    stages = ", ".join(f"{k} {v:.0f}" for k, v in scan["stages_ms"].items())
    rows = [
        [
            scan.get("backend", ""),
            scan.get("precision", ""),
            str(scan.get("batch_size", "")),
            "x".join(map(str, scan.get("shape", []))),
            str(scan["tiles"]),
            "1",
            fmt(scan["wall_ms"], ".0f"),
            stages,
            fmt(scan["model_only_ms"], ".0f"),
            _efficiency(scan),
        ]
    ]
    front = scan.get("decode_in_front")
    if front:
        rows[0][7] += f" (decode began {scan['startup_ms']:.0f} ms earlier, under the backend's start-up)"
        rows.append(
            [
                "",
                "",
                "",
                "same, decode in front",
                str(scan["tiles"]),
                "1",
                fmt(front["wall_ms"], ".0f"),
                "decode and tiling before the first batch",
                fmt(front.get("model_only_ms", scan["model_only_ms"]), ".0f"),
                _efficiency(front),
            ]
        )
    stream = scan.get("stream")
    if stream:
        workers = stream.get("decode_workers") or 0
        how = f"decoded in {workers} processes" if workers else "decode overlaps inference"
        per_s = f", {fmt(stream['images_per_s'], '.2f')} images/s" if stream.get("images_per_s") else ""
        rows.append(
            [
                "",
                "",
                "",
                "worklist",
                str(stream.get("tiles", scan["tiles"])),
                str(stream["images"]),
                fmt(stream["wall_ms_per_image"], ".0f") + " per image" + per_s,
                how,
                _stream_model_only(scan, stream),
                _efficiency(stream),
            ]
        )
    return _table(
        [
            "backend",
            "precision",
            "batch",
            "image",
            "tiles",
            "images",
            "wall ms",
            "stages ms",
            "model-only ms",
            "efficiency",
        ],
        rows,
    )


def render(
    report: dict[str, Any],
    *,
    min_speedup: float,
    min_efficiency: float,
    min_patches_per_s: dict[str, float] | None = None,
    min_images_per_s: float | None = None,
) -> str:
    """The whole report as Markdown (targets as in :func:`~microcalc.bench.targets.target_lines`)."""
    model = report.get("model", {})
    title = (
        f"### mc-bench: {model.get('arch', '?')} at {model.get('patch_size', '?')} px, "
        f"{report.get('created', '')}"
    )
    out = [title, "", f"Command: `{report.get('command', 'mc-bench')}`", ""]
    out += _machine(report["machine"]) + [""]
    out += ["#### Targets", ""] + target_lines(
        report,
        min_speedup=min_speedup,
        min_efficiency=min_efficiency,
        min_patches_per_s=min_patches_per_s,
        min_images_per_s=min_images_per_s,
    )
    method = (report.get("settings") or {}).get("method") or "median of repeats after warm-up"
    out += ["", f"#### Model throughput ({method}; latency per batch)", ""]
    out += _throughput(report)
    n_patches = report.get("parity_set", {}).get("patches", "?")
    out += ["", f"#### Accuracy parity against PyTorch FP32 ({n_patches} labelled patches)", ""] + _parity(
        report
    )
    skipped = report.get("skipped") or []
    if skipped:
        out += ["", "#### Not run here", ""]
        out += [
            f"- {s['backend']} {s.get('precision') or ''}: {s['reason']}".replace("  ", " ") for s in skipped
        ]
    out += ["", "#### End-to-end scan (fastest variant passing parity)", ""]
    out += (
        _scan(report["scan"])
        if report.get("scan")
        else ["Not measured: " + report.get("scan_note", "no scan")]
    )
    if report.get("tuning"):
        out += ["", "#### CPU configurations (--tune; interleaved rounds, two batches in flight)", ""]
        out += _tuning(report["tuning"])
    return "\n".join(out) + "\n"


def _tuning(tuning: dict[str, Any]) -> list[str]:
    if "alternatives" not in tuning:
        return [tuning.get("note", "not tuned")]
    rows = [
        [
            a["name"] + (" (chosen)" if a["name"] == tuning["chosen"] else ""),
            str(a.get("streams") or "?"),
            fmt(a["wall_ms_per_tile"], ".1f"),
            fmt(a["cpu_ms_per_tile"], ".1f"),
        ]
        for a in tuning["alternatives"]
    ]
    head = f"{tuning['backend']} {tuning['precision']}, batch {tuning['batch_size']}"
    head += f"; stored in `{tuning['cache']}`"
    return [head, ""] + _table(["configuration", "streams", "wall ms / tile", "CPU ms / tile"], rows)
