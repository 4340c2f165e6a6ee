"""Hard negative mining (Mordang et al. 2016): score a pool of negatives, add the worst, retrain.

The pool is a folder of negative patches and/or whole normal mammograms (DICOM, e.g. from
``mc-synth mammogram --clusters 0``), which are cut into the scanner's breast tiles
(:mod:`microcalc.trainer.pool`). Round 0 trains normally. Each later round scores every patch of
``--negative-pool`` with the
best model so far, adds pool patches to the training set as negatives (never the same patch
twice) and continues training from the current weights. With ``per_round`` K > 0 they are the K
highest-scoring patches, false positives at 0.5 or not: a model that already scores every normal
tile below 0.5 still flags the highest of them once its operating point is calibrated on whole
images (a ResNet18's fp0.25 point sat near 0.09), so those are the negatives it needs to see.
With ``per_round`` 0 they are all false positives (``p_cluster >= threshold``). Rounds stop
early when nothing is left to add.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from microcalc.errors import InputError
from microcalc.trainer import model_setup
from microcalc.trainer.data import PatchSet, Sample, list_images
from microcalc.trainer.dataset import PatchDataset
from microcalc.trainer.distributed import Dist
from microcalc.trainer.fit import TrainOptions, fit
from microcalc.trainer.loop import make_runtime, predict
from microcalc.trainer.pool import expand_pool


def negative_pool(folder: Path, *, negative_label: int, patch_size: int, cache: Path) -> list[Sample]:
    """Every image in ``folder`` (and its subfolders), labelled as the negative class; whole
    mammograms become their breast tiles, cut into ``cache``."""
    if not folder.is_dir():
        raise InputError(f"{folder}: --negative-pool is not a folder")
    files = list_images(folder) + [
        f for sub in sorted(folder.iterdir()) if sub.is_dir() for f in list_images(sub)
    ]
    if not files:
        raise InputError(f"{folder}: the negative pool holds no images")
    patches, _ = expand_pool(files, cache, patch_size=patch_size)
    return [Sample(path=f, label=negative_label) for f in patches]


def score_pool(
    weights: dict[str, torch.Tensor],
    pool: list[Sample],
    classes: tuple[str, ...],
    opts: TrainOptions,
    dist: Dist,
) -> np.ndarray:
    """``p_cluster`` for every pool patch with ``weights``."""
    runtime = make_runtime(
        device=opts.device, amp=opts.amp, channels_last=opts.channels_last, local_rank=dist.local_rank
    )
    model = model_setup.build_model(opts.arch, num_classes=len(classes), in_chans=opts.preprocessing.channels)
    model.load_state_dict(weights, strict=True)
    model = model.to(runtime.device)
    ds = PatchDataset(
        PatchSet(samples=tuple(pool), classes=classes),
        size=opts.patch_size,
        policy=opts.fit,
        preprocessing=opts.preprocessing,
    )
    loader = DataLoader(ds, batch_size=opts.batch_size, num_workers=opts.workers)
    return predict(model, loader, runtime=runtime, positive_index=0)


def choose_negatives(scores: np.ndarray, used: list[bool], *, threshold: float, per_round: int) -> list[int]:
    """Indices of the pool patches to add this round, highest score first, never one in ``used``:
    the ``per_round`` highest-scoring ones, or (``per_round`` 0) every one at ``threshold`` or above."""
    order = [int(i) for i in np.argsort(-scores, kind="stable") if not used[i]]
    if per_round > 0:
        return order[:per_round]
    return [i for i in order if scores[i] >= threshold]


def fit_with_hard_negatives(
    train: PatchSet,
    val: PatchSet,
    opts: TrainOptions,
    out: Path,
    *,
    rounds: int,
    pool_dir: Path,
    per_round: int,
    dist: Dist,
    resume: bool,
) -> tuple[dict, Path]:
    """Round 0 plus ``rounds`` mining rounds, each in ``out/round_R``; returns (metrics, last round
    folder)."""
    pool = negative_pool(pool_dir, negative_label=1, patch_size=opts.patch_size, cache=out / "pool_tiles")
    metrics, weights = fit(train, val, opts, out / "round_0", dist=dist, resume=resume)
    log: list[dict[str, Any]] = []
    used: set[Path] = set()
    current, last_dir = train, out / "round_0"
    for r in range(1, rounds + 1):
        scores = score_pool(weights, pool, train.classes, opts, dist)
        chosen = choose_negatives(
            scores, [s.path in used for s in pool], threshold=opts.threshold, per_round=per_round
        )
        log.append(
            {
                "round": r,
                "pool": len(pool),
                "false_positives": int((scores >= opts.threshold).sum()),
                "added": len(chosen),
                "top_score": float(scores.max()),
                "lowest_added_score": float(scores[chosen].min()) if chosen else None,
            }
        )
        if not chosen:
            break
        used.update(pool[i].path for i in chosen)
        current = PatchSet(samples=current.samples + tuple(pool[i] for i in chosen), classes=train.classes)
        last_dir = out / f"round_{r}"
        metrics, weights = fit(
            current, val, replace(opts, init=None), last_dir, dist=dist, resume=resume, start_weights=weights
        )
    metrics = {**metrics, "hard_negative_rounds": log}
    return metrics, last_dir
