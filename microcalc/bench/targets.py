"""mc-bench's verdicts: each target as one line that says met or MISSED, from the JSON report alone."""

from __future__ import annotations

from typing import Any

from microcalc.bench.report import best_run


def fmt(value: Any, spec: str = ".3g") -> str:
    """A figure for a report line: ``n/a`` when it was not measured, yes/no for flags."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return format(value, spec)


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
                f", its decode under the backend's start-up as in mc-scan; {fmt(front['efficiency'], '.3f')} "
                "with the decode in front"
            )
            if front
            else ""
        )
        variant = f"{scan.get('backend')} {scan.get('precision')}{how}"
        lines.append(
            f"- Pipeline efficiency of one scan ({variant}): "
            f"{fmt(scan['efficiency'], '.3f')} (target {min_efficiency:g}): {'met' if ok else 'MISSED'}."
        )
        stream = scan.get("stream")
        if stream:
            ok = stream["efficiency"] >= min_efficiency
            lines.append(
                f"- Pipeline efficiency over {stream['images']} scans in a row: "
                f"{fmt(stream['efficiency'], '.3f')} (target {min_efficiency:g}): "
                f"{'met' if ok else 'MISSED'}."
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
            f"- Worklist end to end: {fmt(per_s, '.1f')} mammograms/s (target {min_images_per_s:g}): "
            f"{'met' if ok else 'MISSED'}."
        )
    return lines
