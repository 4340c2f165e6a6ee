"""The report as Markdown tables for people (``benchmarks/RESULTS.md`` includes them verbatim).

Every figure is rendered from the JSON report alone, so tables can be regenerated from a saved
report; targets are parameters and a missed target is printed as MISSED, never hidden.
"""

from __future__ import annotations

from typing import Any

from microcalc.bench.report import best_run
from microcalc.engine.backends.base import STAGES


def _f(value: Any, fmt: str = ".3g") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, fmt)


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
        f"- Libraries: {libs}",
    ]


def _throughput(report: dict[str, Any]) -> list[str]:
    base = report["baseline"]
    rows = [
        [
            "pytorch eager (baseline)",
            "fp32",
            "1",
            _f(base["patches_per_s"], ".2f"),
            _f(base["latency_ms"]["p50"], ".1f"),
            _f(base["latency_ms"]["p90"], ".1f"),
            _f(base["latency_ms"]["p99"], ".1f"),
            "",
            "1.00x",
            "reference",
        ]
    ]
    for r in report["runs"]:
        st, p99 = r.get("stages_ms") or {}, r.get("stages_p99_ms") or {}
        copies = "h2d" in st or "d2h" in st  # only GPU backends time copies; on a CPU it is all compute
        gpu = " / ".join(_f(st.get(k), ".2f") for k in STAGES) if copies else ""
        if copies and p99:
            gpu += " (p99 " + " / ".join(_f(p99.get(k), ".2f") for k in STAGES) + ")"
        parity = r.get("parity") or {}
        verdict = "pass" if parity.get("passed") else "FAIL" if parity else "n/a"
        rows.append(
            [
                r["backend"],
                r["precision"],
                str(r["batch_size"]),
                _f(r["patches_per_s"], ".2f"),
                _f(r["latency_ms"]["p50"], ".1f"),
                _f(r["latency_ms"]["p90"], ".1f"),
                _f(r["latency_ms"]["p99"], ".1f"),
                gpu,
                _f(r["speedup_vs_baseline"], ".2f") + "x",
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
                _f(p["max_abs_diff"]),
                _f(p["mean_abs_diff"]),
                _f(p["label_agreement"], ".2%") if p["label_agreement"] is not None else "n/a",
                _f(p["auc"], ".4f"),
                _f(delta, "+.4f") if delta is not None else "n/a",
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
            _f(scan["wall_ms"], ".0f"),
            stages,
            _f(scan["model_only_ms"], ".0f"),
            _f(scan["efficiency"], ".3f"),
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
                _f(front["wall_ms"], ".0f"),
                "decode and tiling before the first batch",
                _f(scan["model_only_ms"], ".0f"),
                _f(front["efficiency"], ".3f"),
            ]
        )
    stream = scan.get("stream")
    if stream:
        workers = stream.get("decode_workers") or 0
        how = f"decoded in {workers} processes" if workers else "decode overlaps inference"
        per_s = f", {_f(stream['images_per_s'], '.2f')} images/s" if stream.get("images_per_s") else ""
        rows.append(
            [
                "",
                "",
                "",
                "worklist",
                str(stream.get("tiles", scan["tiles"])),
                str(stream["images"]),
                _f(stream["wall_ms_per_image"], ".0f") + " per image" + per_s,
                how,
                _f(scan["model_only_ms"], ".0f") + " (one image)",
                _f(stream["efficiency"], ".3f"),
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


def target_lines(
    report: dict[str, Any],
    *,
    min_speedup: float,
    min_efficiency: float,
    min_patches_per_s: dict[str, float] | None = None,
    min_images_per_s: float | None = None,
) -> list[str]:
    """Whether the best passing variant meets the speed-up and pipeline-efficiency targets, and the
    optional absolute ones: patches/s of the fastest passing run of a precision (e.g. ``{"fp16": 2000}``)
    and worklist images/s."""
    best = best_run(report)
    if best is None:
        return ["- No variant passes parity: speed-up target MISSED."]
    tag = f"{best['backend']} {best['precision']} batch {best['batch_size']}"
    ok = best["speedup_vs_baseline"] >= min_speedup
    lines = [
        (
            f"- Best variant passing parity: {tag}, {best['speedup_vs_baseline']:.2f}x the PyTorch eager "
            f"FP32 "
            f"baseline (target {min_speedup:g}x): {'met' if ok else 'MISSED'}."
        )
    ]
    scan = report.get("scan")
    if scan is None:
        lines.append(f"- Pipeline efficiency: not measured (target {min_efficiency:g}).")
    else:
        ok = scan["efficiency"] is not None and scan["efficiency"] >= min_efficiency
        front = scan.get("decode_in_front")
        how = (
            (
                f", its decode under the backend's start-up as in mc-scan; {_f(front['efficiency'], '.3f')} "
                "with the decode in front"
            )
            if front
            else ""
        )
        variant = f"{scan.get('backend')} {scan.get('precision')}{how}"
        lines.append(
            f"- Pipeline efficiency of one scan ({variant}): "
            f"{_f(scan['efficiency'], '.3f')} (target {min_efficiency:g}): {'met' if ok else 'MISSED'}."
        )
        stream = scan.get("stream")
        if stream:
            ok = stream["efficiency"] >= min_efficiency
            lines.append(
                f"- Pipeline efficiency over {stream['images']} scans in a row: "
                f"{_f(stream['efficiency'], '.3f')} (target {min_efficiency:g}): {'met' if ok else 'MISSED'}."
            )
    for precision, target in (min_patches_per_s or {}).items():
        runs = [
            r for r in report["runs"] if r["precision"] == precision and (r.get("parity") or {}).get("passed")
        ]
        fastest = max(runs, key=lambda r: r["patches_per_s"], default=None)
        got = (
            "none passing parity"
            if fastest is None
            else (
                f"{fastest['patches_per_s']:.0f} patches/s ({fastest['backend']} batch "
                f"{fastest['batch_size']})"
            )
        )
        ok = fastest is not None and fastest["patches_per_s"] >= target
        lines.append(
            f"- {precision.upper()} throughput: {got} (target {target:g}): {'met' if ok else 'MISSED'}."
        )
    if min_images_per_s is not None:
        per_s = ((scan or {}).get("stream") or {}).get("images_per_s")
        ok = per_s is not None and per_s >= min_images_per_s
        lines.append(
            f"- Worklist end to end: {_f(per_s, '.1f')} mammograms/s (target {min_images_per_s:g}): "
            f"{'met' if ok else 'MISSED'}."
        )
    return lines


def render(
    report: dict[str, Any],
    *,
    min_speedup: float,
    min_efficiency: float,
    min_patches_per_s: dict[str, float] | None = None,
    min_images_per_s: float | None = None,
) -> str:
    """The whole report as Markdown (targets as in :func:`target_lines`)."""
    model = report.get("model", {})
    title = f"### mc-bench: {model.get('arch', '?')} at {model.get('patch_size', '?')} px, "
    f"{report.get('created', '')}"
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
    return "\n".join(out) + "\n"
