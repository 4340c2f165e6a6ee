"""Mean and spread over seeds: the one summary every quality benchmark reports (issue 21 item 5).

One training seed is one draw: the same recipe on another seed moved the real fold's AUC from 0.76
to 0.99 (issue 21), so a quality figure states the mean, the sample standard deviation (ddof 1)
and the range over its seeds, and how many seeds there were.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def summarise(values: Sequence[float]) -> dict[str, float | int | None]:
    """``{"n", "mean", "sd", "min", "max"}`` of ``values`` (``sd`` is ``None`` below two values)."""
    xs = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not xs:
        return {"n": 0, "mean": None, "sd": None, "min": None, "max": None}
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return {"n": len(xs), "mean": mean, "sd": sd, "min": min(xs), "max": max(xs)}


def mean_sd(values: Sequence[float], *, digits: int = 3) -> str:
    """``0.947 ± 0.021 (n=3, 0.921-0.974)`` for a table cell; one value prints alone, with n=1."""
    s = summarise(values)
    if not s["n"]:
        return "n/a"
    if s["sd"] is None:
        return f"{s['mean']:.{digits}f} (n=1)"
    spread = f"{s['min']:.{digits}f}-{s['max']:.{digits}f}"
    return f"{s['mean']:.{digits}f} ± {s['sd']:.{digits}f} (n={s['n']}, {spread})"
