"""Run plots: ROC curve of the best checkpoint and per-epoch learning curves (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microcalc.atomic import atomic_path


def _save(fig, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format=path.suffix.lstrip(".") or "png", dpi=100, bbox_inches="tight")


def plot_roc(path: Path, *, is_positive: np.ndarray, p_cluster: np.ndarray, title: str) -> None:
    """``roc.png``: scikit-learn's ROC curve with its AUC in the legend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    if len(np.unique(is_positive)) == 2:
        fpr, tpr, _ = roc_curve(is_positive, p_cluster)
        ax.plot(fpr, tpr, label=f"AUC = {roc_auc_score(is_positive, p_cluster):.4f}")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="1 - specificity", ylabel="sensitivity", title=title, xlim=(0, 1), ylim=(0, 1.01))
    ax.legend(loc="lower right")
    _save(fig, path)
    plt.close(fig)


def plot_curves(path: Path, history: list[dict]) -> None:
    """``curves.png``: training loss and validation AUC/accuracy against epoch."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
    left.plot(epochs, [h["train_loss"] for h in history], marker="o")
    left.set(xlabel="epoch", ylabel="training loss")
    right.plot(
        epochs, [np.nan if h["val_auc"] is None else h["val_auc"] for h in history], marker="o", label="AUC"
    )
    right.plot(epochs, [h["val_accuracy"] for h in history], marker="s", label="accuracy")
    right.set(xlabel="epoch", ylabel="validation", ylim=(0, 1.02))
    right.legend(loc="lower right")
    _save(fig, path)
    plt.close(fig)
