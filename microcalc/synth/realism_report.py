"""``mc-synth compare``: how far synthetic patches lie from real ones, statistic by statistic.

Both sets are class-folder trees or ``path,label`` manifests (the layout ``mc-train`` reads).
Each statistic of :mod:`microcalc.synth.realism` is measured on every patch (or on a seeded
sample of ``max_per_class`` per class), per class; the report ranks the statistics by the
Kolmogorov-Smirnov distance between the real and the synthetic distributions, so the largest
difference comes first, and draws both distributions side by side (matplotlib, imported only
here, from the ``train`` extra).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microcalc.synth.realism import bright_specks, distances, patch_statistics, radial_nps

CLASSES = ("cluster", "normal")


def load_classes(
    source: Path, *, positive: str | None, max_per_class: int, seed: int
) -> dict[str, list[np.ndarray]]:
    """``{"cluster": [...], "normal": [...]}`` uint8 patches of a class-folder tree or manifest.

    The positive class is ``positive`` or, by default, ``cluster`` if that folder exists, else
    ``1``; every other class counts as normal. At most ``max_per_class`` patches per class, a seeded random
    sample.
    """
    from microcalc.imaging.patches import read_patch
    from microcalc.trainer.data import discover

    pos = positive or ("cluster" if (Path(source) / "cluster").is_dir() else "1")
    found = discover(source, positive_class=pos)  # the positive class is label 0
    pairs = [(s.path, s.label == 0) for s in found.samples]
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {}
    for cls in CLASSES:
        paths = [p for p, is_pos in pairs if is_pos == (cls == "cluster")]
        if len(paths) > max_per_class:
            paths = [paths[i] for i in sorted(rng.choice(len(paths), max_per_class, replace=False))]
        out[cls] = [read_patch(p) for p in paths]
    return out


def measure(patches: dict[str, list[np.ndarray]]) -> dict[str, dict[str, np.ndarray]]:
    """Per class: each per-patch statistic, the pooled grey levels, and each speck's size and contrast."""
    result: dict[str, dict[str, np.ndarray]] = {}
    for cls, items in patches.items():
        found = [bright_specks(p) for p in items]
        rows = [patch_statistics(p, f) for p, f in zip(items, found)]
        specks = [s for f in found for s in f]
        cols = {k: np.array([r[k] for r in rows]) for k in (rows[0] if rows else {})}
        cols["grey_level"] = (
            np.concatenate([p.ravel() for p in items]).astype(np.float64) if items else np.array([])
        )
        cols["speck_diameter_px"] = np.array([s.diameter_px for s in specks])
        cols["speck_contrast"] = np.array([s.contrast for s in specks])
        result[cls] = cols
    return result


def _median(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(np.median(finite)) if finite.size else float("nan")


def compare(real: dict[str, dict[str, np.ndarray]], synth: dict[str, dict[str, np.ndarray]]) -> list[dict]:
    """One row per (statistic, class): medians of both sets and their distances, largest KS first."""
    rows = []
    for cls in CLASSES:
        for name in real[cls]:
            r, s = real[cls][name], synth[cls].get(name, np.array([]))
            rows.append(
                {
                    "statistic": name,
                    "class": cls,
                    "real_median": _median(r),
                    "synth_median": _median(s),
                    "n_real": int(r.size),
                    "n_synth": int(s.size),
                    **distances(r, s),
                }
            )
    return sorted(rows, key=lambda row: -np.nan_to_num(row["ks"], nan=-1.0))


def markdown_table(rows: list[dict]) -> str:
    """The comparison as a Markdown table (the form recorded in docs/)."""
    lines = [
        "| statistic | class | real median | synthetic median | Wasserstein | KS |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {r['statistic']} | {r['class']} | {r['real_median']:.3g} | {r['synth_median']:.3g} | "
        f"{r['wasserstein']:.3g} | {r['ks']:.3f} |"
        for r in rows
    ]
    return "\n".join(lines) + "\n"


def plot(real: dict, synth: dict, real_patches: dict, synth_patches: dict, out: Path) -> list[Path]:
    """``distributions.png`` (each statistic, real beside synthetic), ``nps.png``, ``examples.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(real["cluster"])
    fig, axes = plt.subplots(len(names), 2, figsize=(9, 2.1 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        for j, cls in enumerate(CLASSES):
            ax = axes[i, j]
            r, s = real[cls][name], synth[cls][name]
            r, s = r[np.isfinite(r)], s[np.isfinite(s)]
            both = np.concatenate([r, s])
            lo, hi = (float(both.min()), float(both.max())) if both.size else (0.0, 1.0)
            bins = np.linspace(lo, max(hi, lo + 1e-6), 41)
            for values, label in ((r, "real"), (s, "synthetic")):
                if values.size:
                    ax.hist(
                        values,
                        bins=bins,
                        alpha=0.55,
                        label=label,
                        weights=np.full(values.size, 1.0 / values.size),
                    )
            ax.set_title(f"{name} ({cls})", fontsize=8)
            ax.tick_params(labelsize=7)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    paths = [out / "distributions.png", out / "nps.png", out / "examples.png"]
    fig.savefig(paths[0], dpi=80)
    plt.close(fig)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, cls in zip(axes, CLASSES):
        for label, group in (("real", real_patches[cls]), ("synthetic", synth_patches[cls])):
            if group:
                curves = [radial_nps(p) for p in group]
                mean = np.mean([c[1] for c in curves], axis=0)
                ax.loglog(curves[0][0][mean > 0], mean[mean > 0], label=label)
        ax.set_title(f"mean NPS ({cls})", fontsize=9)
        ax.set_xlabel("cycles / pixel", fontsize=8)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(paths[1], dpi=80)
    plt.close(fig)
    fig, axes = plt.subplots(4, 8, figsize=(10, 5.4))
    for row, (label, group, cls) in enumerate(
        [("real", real_patches, c) for c in CLASSES] + [("synthetic", synth_patches, c) for c in CLASSES]
    ):
        for k, ax in enumerate(axes[row]):
            ax.axis("off")
            if k < len(group[cls]):
                ax.imshow(group[cls][k], cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_title(f"{label} {cls}", fontsize=8, loc="left")
    fig.tight_layout()
    fig.savefig(paths[2], dpi=80)
    plt.close(fig)
    return paths
