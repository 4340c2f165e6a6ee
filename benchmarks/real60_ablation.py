"""Which stabiliser removes the swing of validation AUC on the real 60x60 patches (issue 21, item 2).

One training trajectory per (seed, warm-up) is scored after every epoch in four ways (a hook of
:func:`microcalc.trainer.fit.fit`, so the trajectory is exactly ``mc-train``'s): the trained weights
with their running BatchNorm statistics (``raw``, the old behaviour), the same with BatchNorm
re-estimated (``raw_bn``), the weight EMA (``ema``) and the EMA with BatchNorm re-estimated
(``ema_bn``). Each configuration of the table is then a variant plus a selection rule (each epoch's
AUC with patience 10, the old rule, or the 3-epoch mean) applied to the validation scores; the
chosen epoch's weights are scored on the held-out fold at the ``youden`` point chosen on
validation, as a shipped checkpoint would be.

    python benchmarks/real60_ablation.py WORK --arch smallcnn --epochs 20 --seeds 0 1 2

reads ``WORK/split/{train,test}`` (benchmarks/synth_transfer/real60_split.py), writes
``WORK/ablation/<arch>-s<seed>-w<warmup>/`` and merges a table into ``WORK/ablation.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
from pathlib import Path

import numpy as np
import torch
from real60_bench import second_half_moves  # this folder is sys.path[0]

from microcalc.trainer.data import discover, stratified_split
from microcalc.trainer.dataset import PatchDataset
from microcalc.trainer.fit import TrainOptions, fit
from microcalc.trainer.loop import make_runtime, predict
from microcalc.trainer.metrics import binary_metrics, validation_points
from microcalc.trainer.model_setup import build_model
from microcalc.trainer.stability import SmoothedSelector, reestimate_bn
from microcalc.trainer.validate import BN_PATCHES

VARIANTS = ("raw", "raw_bn", "ema", "ema_bn")
# name: (warm-up epochs, variant, smoothing window)
CONFIGS = {
    "baseline": (0, "raw", 1),
    "bn_reestimate": (0, "raw_bn", 1),
    "ema": (0, "ema", 1),
    "warmup": (1, "raw", 1),
    "smoothed_selection": (0, "raw", 3),
    "ema+bn": (0, "ema_bn", 1),
    "all": (1, "ema_bn", 3),
}


def trajectory(work: Path, arch: str, epochs: int, seed: int, warmup: int, amp: str, lr: float) -> Path:
    """Train once, keeping each variant's weights and validation scores per epoch; returns its folder."""
    run = work / "ablation" / f"{arch}-s{seed}-w{warmup}-{amp}"
    if (run / "scores.json").is_file():
        return run
    train_all = discover(work / "split" / "train", positive_class="1")
    tr, va = stratified_split(train_all.labels, fraction=0.2, seed=seed)  # as mc-train splits
    train, val = train_all.subset(tr), train_all.subset(va)
    opts = TrainOptions(
        arch=arch, patch_size=60, lr=lr, batch_size=32, epochs=epochs, seed=seed, amp=amp,
        warmup_epochs=warmup, patience=0, ema_decay=0.998, bn_reestimate=False, smooth_epochs=1,
        progress=False,
    )  # fmt: skip
    runtime = make_runtime(amp=amp)
    bn_ds = PatchDataset(train, size=60, policy="error", preprocessing=opts.preprocessing)
    val_ds = PatchDataset(val, size=60, policy="error", preprocessing=opts.preprocessing)
    val_loader = torch.utils.data.DataLoader(val_ds, batch_size=64)
    batches = -(-BN_PATCHES // 32)
    scores: dict[str, list] = {v: [] for v in VARIANTS}

    def hook(epoch: int, model: torch.nn.Module, ema) -> None:
        # A private generator: the training trajectory's own random draws stay untouched.
        order = torch.Generator().manual_seed(epoch)
        bn_loader = torch.utils.data.DataLoader(bn_ds, batch_size=32, shuffle=True, generator=order)
        models = {"raw": copy.deepcopy(model), "ema": copy.deepcopy(ema.module)}
        for name in ("raw", "ema"):
            models[f"{name}_bn"] = copy.deepcopy(models[name])
            with runtime.autocast():
                reestimate_bn(models[f"{name}_bn"], (x for x, _ in bn_loader), max_batches=batches)
        for name, m in models.items():
            scores[name].append(predict(m, val_loader, runtime=runtime, positive_index=0).tolist())
            torch.save(m.state_dict(), run / f"{name}-{epoch:02d}.pt")

    run.mkdir(parents=True, exist_ok=True)
    fit(train, val, opts, run, on_epoch=hook)
    labels = (val_ds.labels == 0).tolist()
    (run / "scores.json").write_text(json.dumps({"is_pos": labels, "scores": scores}))
    return run


def choose(is_pos: np.ndarray, per_epoch: list, window: int) -> tuple[int, list[float]]:
    """The epoch (1-based) a run would keep with this smoothing window and patience 10; the AUC curve."""
    selector = SmoothedSelector(window=window, patience=10)
    aucs, best = [], 0
    for epoch, s in enumerate(per_epoch, start=1):
        m = binary_metrics(is_pos, np.array(s), threshold=0.5)
        aucs.append(m["auc"])
        if not selector.stop and selector.step([m["auc"], m["accuracy"]]):
            best = epoch
    return best, aucs


def held_out(run: Path, work: Path, variant: str, epoch: int, val_scores: np.ndarray, is_pos_val, amp: str):
    """AUC and accuracy at the validation ``youden`` point of that epoch's weights on the held-out fold."""
    test = discover(work / "split" / "test", positive_class="1", classes=("1", "0"))
    opts = TrainOptions(patch_size=60)
    ds = PatchDataset(test, size=60, policy="error", preprocessing=opts.preprocessing)
    arch = run.name.split("-")[0]
    model = build_model(arch, num_classes=2, in_chans=3)
    model.load_state_dict(torch.load(run / f"{variant}-{epoch:02d}.pt"))
    s = predict(
        model, torch.utils.data.DataLoader(ds, batch_size=64), runtime=make_runtime(amp=amp), positive_index=0
    )
    point = validation_points(is_pos_val, val_scores)
    threshold = point.get(point.default).threshold
    m = binary_metrics(ds.labels == 0, s, threshold=threshold)
    return {k: m[k] for k in ("auc", "accuracy", "sensitivity", "specificity", "threshold")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--arch", default="smallcnn")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--warmups", type=int, nargs="+", default=[0, 1])
    ap.add_argument(
        "--amp", default="auto", help="auto (default mode) or off (with ONEDNN_MAX_CPU_ISA: no-AMX)"
    )
    args = ap.parse_args()
    rows = []
    for seed in args.seeds:
        for warmup in args.warmups:
            trajectory(args.work, args.arch, args.epochs, seed, warmup, args.amp, args.lr)
        for name, (warmup, variant, window) in CONFIGS.items():
            run = args.work / "ablation" / f"{args.arch}-s{seed}-w{warmup}-{args.amp}"
            if not (run / "scores.json").is_file():
                continue
            data = json.loads((run / "scores.json").read_text())
            is_pos = np.array(data["is_pos"])
            epoch, aucs = choose(is_pos, data["scores"][variant], window)
            val_scores = np.array(data["scores"][variant][epoch - 1])
            result = held_out(run, args.work, variant, epoch, val_scores, is_pos, args.amp)
            rows.append(
                {
                    "config": name,
                    "seed": seed,
                    "epoch": epoch,
                    "val_auc": aucs,
                    "swing": second_half_moves(aucs),
                    **result,
                }
            )
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "val_auc"}), flush=True)
    out = args.work / f"ablation-{args.arch}-{args.amp}.json"
    record = {"arch": args.arch, "epochs": args.epochs, "lr": args.lr, "amp": args.amp, "configs": CONFIGS}
    out.write_text(json.dumps({**record, "summary": summary(rows), "rows": rows}, indent=1) + "\n")
    for name, figures in summary(rows).items():
        print(name, json.dumps(figures))


def summary(rows: list[dict]) -> dict[str, dict]:
    """Mean and sample standard deviation over seeds of each configuration's held-out figures."""
    out = {}
    for name in CONFIGS:
        mine = [r for r in rows if r["config"] == name]
        if not mine:
            continue
        out[name] = {"seeds": [r["seed"] for r in mine]}
        for key in ("auc", "accuracy", "swing"):
            values = np.array([r[key] for r in mine])
            sd = float(values.std(ddof=1)) if len(values) > 1 else 0.0
            out[name][key] = {"mean": round(float(values.mean()), 4), "sd": round(sd, 4)}
    return out


if __name__ == "__main__":
    main()
