"""The fixed held-out fold of ``real60_train``: chosen once, by patient, never used for tuning.

Patches of one patient (the first four characters of a file name, e.g. ``0006`` in
``0006s1_1_1_1.pgm_1.pgm``) never straddle the split, so that neither synthetic tuning on the
training fold nor fine-tuning on it sees the held-out women. The fold is fold 0 of scikit-learn's
``StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=16)``: about a third of the
patches, both classes in proportion.

    python benchmarks/synth_transfer/real60_split.py ../shared/data/real60_train WORK/real60_split

makes ``WORK/real60_split/{train,test}/{0,1}/`` (symbolic links to the real files, which never
enter the repository) and prints the counts; the held-out names are listed in
``benchmarks/synth_transfer/real60_heldout.txt`` so that the fold can be checked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

HERE = Path(__file__).resolve().parent
SEED = 16


def split(real_dir: Path) -> dict[str, list[tuple[Path, str]]]:
    """``{"train": [(path, label)], "test": [...]}`` with label ``"1"`` (cluster) or ``"0"``."""
    pairs = sorted((p, cls) for cls in ("0", "1") for p in (real_dir / cls).iterdir() if p.suffix == ".pgm")
    labels = np.array([int(cls) for _, cls in pairs])
    groups = np.array([p.name[:4] for p, _ in pairs])
    folds = StratifiedGroupKFold(n_splits=3, shuffle=True, random_state=SEED)
    _, test_idx = next(iter(folds.split(np.zeros(len(pairs)), labels, groups)))
    test = set(test_idx.tolist())
    return {
        "train": [pairs[i] for i in range(len(pairs)) if i not in test],
        "test": [pairs[i] for i in sorted(test)],
    }


def materialise(parts: dict[str, list[tuple[Path, str]]], out: Path) -> None:
    """Symbolic-link trees ``out/train`` and ``out/test`` in the class-folder layout."""
    for name, items in parts.items():
        for path, cls in items:
            link = out / name / cls / path.name
            link.parent.mkdir(parents=True, exist_ok=True)
            if not link.exists():
                link.symlink_to(path.resolve())


def main() -> None:
    real_dir, out = Path(sys.argv[1]), Path(sys.argv[2])
    parts = split(real_dir)
    materialise(parts, out)
    names = "\n".join(f"{cls}/{p.name}" for p, cls in parts["test"]) + "\n"
    listing = HERE / "real60_heldout.txt"
    if listing.exists() and listing.read_text() != names:
        sys.exit(f"{listing}: the held-out fold changed; it is fixed once and never re-drawn")
    listing.write_text(names)
    for name, items in parts.items():
        counts = {c: sum(1 for _, k in items if k == c) for c in ("1", "0")}
        print(
            f"{name}: {len(items)} patches ({counts['1']} cluster, {counts['0']} normal), "
            f"{len({p.name[:4] for p, _ in items})} patients"
        )


if __name__ == "__main__":
    main()
