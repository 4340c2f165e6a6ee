"""Named operating points: which threshold on ``p_cluster`` a reader gets, and why it was chosen.

A fixed 0.5 says nothing about what a reader will see: a mammogram is hundreds of tiles, so the
threshold decides how many false findings each image carries. Operating points name thresholds
by what they were chosen for and record what they achieved on the set they were chosen on:

* patch level (``mc-train``, on its validation patches): ``youden`` (maximum sensitivity +
  specificity - 1), ``sens0.95`` (the highest threshold with sensitivity >= 0.95) and
  ``spec0.95`` (the lowest threshold with specificity >= 0.95);
* image level (``mc-froc --calibrate``, on whole mammograms): ``fp0.1`` ... ``fp1``, the lowest
  threshold with at most that many false positives per image.

Checkpoints carry them (``"operating_points"``), ``mc-export`` copies them into ``bundle.json``,
and ``mc-scan --operating-point NAME`` picks one; the bundle's ``default`` is used otherwise.
A bundle without points is scanned at :data:`FALLBACK_THRESHOLD`, and its reports say so.
numpy only: the scanner imports this.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from microcalc.errors import InputError

FALLBACK_THRESHOLD = 0.5
LEVELS = ("patch", "image")
PATCH_DEFAULT = "youden"
IMAGE_DEFAULT = "fp0.25"
_EDGE = 1e-6  # thresholds stay inside (0, 1), where the scanner accepts them


@dataclass(frozen=True)
class OperatingPoint:
    """One named threshold, what it was chosen for, and what it achieved there."""

    name: str
    threshold: float
    level: str
    criterion: str
    measured: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(
                f"operating point {self.name}: threshold must lie in (0, 1), got {self.threshold}"
            )
        if self.level not in LEVELS:
            raise ValueError(
                f"operating point {self.name}: level must be one of {LEVELS}, got {self.level!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threshold": self.threshold,
            "level": self.level,
            "criterion": self.criterion,
            "measured": dict(self.measured),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OperatingPoint:
        return cls(
            name=str(data["name"]),
            threshold=float(data["threshold"]),
            level=str(data["level"]),
            criterion=str(data.get("criterion", "")),
            measured=dict(data.get("measured") or {}),
        )


@dataclass(frozen=True)
class OperatingPoints:
    """The points of one model and the name of the default (``None`` when there are none)."""

    points: tuple[OperatingPoint, ...] = ()
    default: str | None = None

    def __post_init__(self) -> None:
        names = [p.name for p in self.points]
        if len(set(names)) != len(names):
            raise ValueError(f"operating point names repeat: {names}")
        if self.default is not None and self.default not in names:
            raise ValueError(f"default operating point {self.default!r} is not among {names}")

    def __bool__(self) -> bool:
        return bool(self.points)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.points]

    def get(self, name: str) -> OperatingPoint:
        """The point called ``name``; ``InputError`` lists the ones there are."""
        for point in self.points:
            if point.name == name:
                return point
        raise InputError(f"no operating point {name!r}; this model has: {', '.join(self.names) or 'none'}")

    def merged(self, new: list[OperatingPoint], *, default: str | None = None) -> OperatingPoints:
        """These points with ``new`` added (replacing points of the same name)."""
        names = {p.name for p in new}
        kept = tuple(p for p in self.points if p.name not in names)
        return OperatingPoints(points=kept + tuple(new), default=default or self.default)

    def to_dict(self) -> dict[str, Any]:
        return {"default": self.default, "points": [p.to_dict() for p in self.points]}

    def manifest_entries(self, *, fallback: float) -> dict[str, Any]:
        """What a bundle manifest records: ``threshold`` (the default point's, else ``fallback``) and,
        when there are points, ``operating_points``; the one place the two are kept consistent."""
        if self.default is None:
            return {"threshold": fallback, **({"operating_points": self.to_dict()} if self.points else {})}
        return {"threshold": self.get(self.default).threshold, "operating_points": self.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> OperatingPoints:
        """Read the ``operating_points`` entry of a checkpoint or bundle (absent: no points)."""
        if not data:
            return cls()
        return cls(
            points=tuple(OperatingPoint.from_dict(p) for p in data.get("points", [])),
            default=data.get("default"),
        )


@dataclass(frozen=True)
class ChosenPoint:
    """The threshold a scan runs at, and where it came from (written into every report)."""

    threshold: float
    name: str | None
    source: str
    point: OperatingPoint | None = None

    @property
    def calibrated(self) -> bool:
        return self.point is not None

    def describe(self) -> str:
        """One line for the console: which point, which threshold, chosen for what."""
        if self.point is None:
            return f"threshold {self.threshold:.4g} ({self.source})"
        line = (
            f"operating point {self.name} = threshold {self.threshold:.4g} "
            f"({self.point.level} level: {self.point.criterion}; {self.source})"
        )
        if self.point.level == "patch":
            # A patch-level point says nothing about false positives per image: a mammogram has
            # hundreds of tiles, so a threshold chosen on balanced patches can flag several per image.
            line += "; not calibrated on whole images: mc-froc BUNDLE CASES --calibrate"
        return line

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "threshold": self.threshold,
            "source": self.source,
            "calibrated": self.calibrated,
        }
        if self.point is not None:
            out.update(level=self.point.level, criterion=self.point.criterion, measured=self.point.measured)
        return out


def choose(
    points: OperatingPoints,
    *,
    name: str | None = None,
    threshold: float | None = None,
    fallback: float = FALLBACK_THRESHOLD,
) -> ChosenPoint:
    """Resolve ``--operating-point NAME`` / ``--threshold T`` against a model's points.

    Nothing asked for: the model's default point, or ``fallback`` (a bundle's fixed threshold,
    0.5 unless its manifest says otherwise) when it has none.
    """
    if name is not None and threshold is not None:
        raise InputError("give --operating-point or --threshold, not both")
    if threshold is not None:
        if not 0.0 < threshold < 1.0:
            raise InputError(f"--threshold must lie in (0, 1), got {threshold}")
        return ChosenPoint(threshold=float(threshold), name=None, source="--threshold given by the user")
    if name is not None:
        point = points.get(name)
        return ChosenPoint(threshold=point.threshold, name=point.name, source="asked for", point=point)
    if points.default is not None:
        point = points.get(points.default)
        return ChosenPoint(
            threshold=point.threshold, name=point.name, source="the model's default", point=point
        )
    return ChosenPoint(
        threshold=float(fallback),
        name=None,
        source="fixed fallback: the model carries no operating points; calibrate it with "
        "mc-froc BUNDLE CASES --calibrate",
    )


def identify(
    points: OperatingPoints, threshold: float, *, fallback: float = FALLBACK_THRESHOLD
) -> ChosenPoint:
    """The point a scan at ``threshold`` runs at, where only the threshold travelled (``--ray`` actors)."""
    named = [p for p in points.points if p.threshold == threshold]
    named.sort(key=lambda p: p.name != points.default)
    if named:
        return ChosenPoint(
            threshold=threshold,
            name=named[0].name,
            source="the model's point at this threshold",
            point=named[0],
        )
    if not points and threshold == fallback:
        return choose(points, fallback=fallback)
    return ChosenPoint(threshold=threshold, name=None, source="--threshold given by the user")


def point_label(point: dict[str, Any]) -> str:
    """Short name of a report's point: ``fp0.25 (0.8123)`` or ``threshold 0.5 (uncalibrated)``."""
    if point.get("name"):
        return f"{point['name']} ({point['threshold']:.4g})"
    kind = "uncalibrated" if "fallback" in point.get("source", "") else "fixed"
    return f"threshold {point['threshold']:.4g} ({kind})"


def _between(scores_desc: np.ndarray, k: int) -> float:
    """A threshold that makes the same decisions as ``scores_desc[k]`` (midway to the next lower score)."""
    upper = float(scores_desc[k])
    lower = float(scores_desc[k + 1]) if k + 1 < scores_desc.size else 0.0
    return float(np.clip((upper + lower) / 2.0, _EDGE, 1.0 - _EDGE))


def roc_points(is_positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scores in descending order and the sensitivity and specificity at each (``score >= t``)."""
    y = np.asarray(is_positive, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.all() or not y.any():
        raise ValueError("operating points need both positive and negative examples")
    thresholds = np.unique(s)[::-1]
    # positives / negatives with score >= t, counted on negated scores sorted ascending
    true_pos = np.searchsorted(np.sort(-s[y]), -thresholds, side="right")
    false_pos = np.searchsorted(np.sort(-s[~y]), -thresholds, side="right")
    return thresholds, true_pos / y.sum(), 1.0 - false_pos / (~y).sum()


def patch_points(is_positive: np.ndarray, scores: np.ndarray, *, target: float = 0.95) -> OperatingPoints:
    """Patch-level points from validation scores: ``youden``, ``sens0.95``, ``spec0.95`` (default ``youden``).

    Each threshold sits midway between the score it admits and the next lower one, so it makes the
    validation set's decisions while leaving room on both sides for a shifted set; where several
    thresholds share the maximum J, ``youden`` takes the middle one.
    """
    thresholds, sens, spec = roc_points(is_positive, scores)
    youden = sens + spec - 1.0
    best = np.flatnonzero(youden >= youden.max() - 1e-12)
    k_youden = int(best[best.size // 2])  # the middle of a tie: farthest from both ends of the plateau
    k_sens = int(np.flatnonzero(sens >= target)[0])
    meets_spec = np.flatnonzero(spec >= target)
    k_spec = int(meets_spec[-1]) if meets_spec.size else 0  # else: the strictest threshold there is
    n = int(np.asarray(is_positive).size)
    label = f"{target:g}"
    chosen = (
        (PATCH_DEFAULT, k_youden, "maximum Youden J on the validation patches"),
        (f"sens{label}", k_sens, f"highest threshold with sensitivity >= {label} on the validation patches"),
        (f"spec{label}", k_spec, f"lowest threshold with specificity >= {label} on the validation patches"),
    )
    points = []
    for name, k, criterion in chosen:
        measured = {"sensitivity": float(sens[k]), "specificity": float(spec[k]), "n": n}
        points.append(
            OperatingPoint(
                name=name,
                threshold=_between(thresholds, k),
                level="patch",
                criterion=criterion,
                measured=measured,
            )
        )
    return OperatingPoints(points=tuple(points), default=PATCH_DEFAULT)
