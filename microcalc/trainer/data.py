"""Patch data sets: find labelled patches, read them as 8-bit gray, fit them to the patch size.

A data set is either a folder with one subfolder per class (``cluster/``, ``normal/``...) or a
CSV manifest with ``path,label`` rows (relative paths are relative to the CSV). A patch directly in
the folder takes the class its name gives by :class:`~microcalc.imaging.patch_sets.LabelRule`,
the rule mc-export and mc-bench label with. Patches are
read and fitted by :mod:`microcalc.imaging.patches` (``--fit error|crop-pad|resize``), the reader
export, evaluation and benchmarks share.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microcalc.errors import InputError
from microcalc.imaging.patch_sets import LabelRule
from microcalc.imaging.patches import fit_patch, is_patch_file, read_patch


@dataclass(frozen=True)
class Sample:
    """One patch file and its class index (``-1`` when unlabelled)."""

    path: Path
    label: int


@dataclass(frozen=True)
class PatchSet:
    """Labelled patches plus the class names their labels index."""

    samples: tuple[Sample, ...]
    classes: tuple[str, ...]

    @property
    def labels(self) -> np.ndarray:
        return np.array([s.label for s in self.samples], dtype=np.int64)

    def subset(self, indices: np.ndarray | list[int]) -> PatchSet:
        return PatchSet(samples=tuple(self.samples[int(i)] for i in indices), classes=self.classes)

    def __len__(self) -> int:
        return len(self.samples)


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted (hidden files skipped)."""
    return sorted(p for p in folder.iterdir() if is_patch_file(p))


def _from_folders(root: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not subdirs:
        raise InputError(
            f"{root}: no class subfolders (expected one folder per class, e.g. cluster/ and normal/)"
        )
    pairs: list[tuple[Path, str]] = []
    for sub in subdirs:
        files = list_images(sub)
        if not files:
            raise InputError(f"{sub}: class folder '{sub.name}' holds no images")
        pairs += [(f, sub.name) for f in files]
    return pairs, [d.name for d in subdirs]


def _from_manifest(csv_path: Path) -> tuple[list[tuple[Path, str]], list[str]]:
    try:
        with open(csv_path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{csv_path}: unreadable manifest ({exc})") from exc
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise InputError(f"{csv_path}: a manifest needs a header 'path,label' and at least one row")
    pairs = []
    for line, row in enumerate(rows, start=2):
        path, label = (row.get("path") or "").strip(), (row.get("label") or "").strip()
        if not path or not label:
            raise InputError(f"{csv_path}:{line}: empty path or label")
        p = Path(path) if Path(path).is_absolute() else csv_path.parent / path
        pairs.append((p, label))
    return pairs, sorted({label for _, label in pairs})


def _loose_patches(root: Path, *, classes: tuple[str, ...], positive_class: str) -> list[tuple[Path, str]]:
    """Patches directly in ``root`` with the class their name gives by the one labelling rule
    (:class:`~microcalc.imaging.patch_sets.LabelRule`: ``calc_01.png`` is a cluster, as for mc-export
    and mc-bench); a name that says nothing, or "no cluster" among several other classes, is refused."""
    rule = LabelRule.for_model(classes, positive_class)
    others = [c for c in classes if c != positive_class]
    pairs = []
    for path in list_images(root):
        label = rule.label(path.stem)
        if label == 1:
            pairs.append((path, positive_class))
        elif label == 0 and len(others) == 1:
            pairs.append((path, others[0]))
        else:
            raise InputError(
                f"{path}: its name does not say its class ({', '.join(classes)}); move it into a class folder"
            )
    return pairs


def order_classes(names: list[str], positive_class: str) -> tuple[str, ...]:
    """Class names in logit order: the positive class first (the published model's class 0)."""
    if positive_class not in names:
        raise InputError(
            f"positive class '{positive_class}' is not among the classes found "
            f"({', '.join(names)}); pick one with --positive-class"
        )
    return (positive_class, *[n for n in names if n != positive_class])


def discover(source: str | Path, *, positive_class: str, classes: tuple[str, ...] | None = None) -> PatchSet:
    """Find labelled patches in a class-folder tree or a CSV manifest.

    Args:
        source: folder with one subfolder per class, or a ``.csv`` manifest (``path,label``).
        positive_class: the cluster class; it becomes class 0.
        classes: impose this class order (e.g. a validation set must use the training order).

    Raises:
        InputError: missing folder, empty class folder, a single class, a missing positive class.
    """
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        pairs, names = _from_manifest(source)
    elif source.is_dir():
        pairs, names = _from_folders(source)
    else:
        raise InputError(f"{source}: not a folder of class subfolders nor a .csv manifest")
    if classes is None:
        if len(names) < 2:
            raise InputError(
                f"{source}: only one class found ({', '.join(names)}); training needs at least two"
            )
        classes = order_classes(names, positive_class)
    unknown = sorted(set(names) - set(classes))
    if unknown:
        raise InputError(
            f"{source}: classes {', '.join(unknown)} are not among the model's ({', '.join(classes)})"
        )
    if source.is_dir():
        pairs += _loose_patches(source, classes=classes, positive_class=positive_class)
    index = {c: i for i, c in enumerate(classes)}
    return PatchSet(samples=tuple(Sample(p, index[c]) for p, c in pairs), classes=tuple(classes))


def load_patches(patch_set: PatchSet, *, size: int, policy: str) -> np.ndarray:
    """Read and fit every patch into one uint8 array ``[N, size, size]`` (errors name the file)."""
    out = np.empty((len(patch_set), size, size), dtype=np.uint8)
    for i, sample in enumerate(patch_set.samples):
        if not sample.path.is_file():
            raise InputError(f"{sample.path}: no such image file")
        out[i] = fit_patch(read_patch(sample.path), size=size, policy=policy, path=sample.path)
    return out


def stratified_split(labels: np.ndarray, *, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices with class proportions kept (scikit-learn's stratified split)."""
    from sklearn.model_selection import train_test_split

    if not 0.0 < fraction < 1.0:
        raise InputError(f"--val-fraction must lie in (0, 1), got {fraction}")
    counts = np.bincount(labels)
    if counts.min() < 2:
        raise InputError(
            f"a stratified validation split needs at least 2 patches per class, got {counts.tolist()}"
        )
    idx = np.arange(len(labels))
    n_val = max(round(fraction * len(labels)), len(counts))
    train, val = train_test_split(idx, test_size=n_val, stratify=labels, random_state=seed)
    return np.sort(train), np.sort(val)
