"""Score patches with a checkpoint (PyTorch) or an exported bundle (any engine backend).

Both paths take the same uint8 ``[n, 1, P, P]`` batches: the checkpoint path applies the
recorded :class:`Preprocessing` in numpy, the bundle's ONNX graph applies it inside, so a
checkpoint and its bundle must agree to within the export's parity tolerance.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microcalc.errors import InputError
from microcalc.imaging.patches import fit_patch, read_patch
from microcalc.model_config import ModelConfig
from microcalc.rebuild import export_command
from microcalc.trainer.data import list_images


@dataclass(frozen=True)
class Item:
    """One patch to score; ``label`` is its class folder name, or None when unknown."""

    path: Path
    label: str | None


def collect(paths: list[Path]) -> list[Item]:
    """Files are unlabelled; a folder with class subfolders gives labelled items, a flat folder unlabelled."""
    items: list[Item] = []
    for path in paths:
        if path.is_file():
            items.append(Item(path, None))
        elif path.is_dir():
            subdirs = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
            items += [Item(f, None) for f in list_images(path)]
            for sub in subdirs:
                files = list_images(sub)
                if not files:
                    raise InputError(f"{sub}: class folder '{sub.name}' holds no images")
                items += [Item(f, sub.name) for f in files]
        else:
            raise InputError(f"{path}: no such file or folder")
    if not items:
        raise InputError(f"{', '.join(map(str, paths))}: no images to evaluate")
    return items


def batches(items: list[Item], *, size: int, policy: str, batch: int) -> Iterator[np.ndarray]:
    """uint8 ``[n, 1, P, P]`` batches in item order, read lazily (any number of patches)."""
    for start in range(0, len(items), batch):
        chunk = items[start : start + batch]
        out = np.empty((len(chunk), 1, size, size), dtype=np.uint8)
        for i, item in enumerate(chunk):
            out[i, 0] = fit_patch(read_patch(item.path), size=size, policy=policy, path=item.path)
        yield out


def checkpoint_scorer(path: Path, *, precision: str, device: str) -> tuple[ModelConfig, Callable, Callable]:
    """``(config, score(tiles) -> p_cluster, close)`` for one of our (or a published) checkpoints."""
    import torch

    from microcalc.models.checkpoint import load_checkpoint
    from microcalc.trainer.loop import make_runtime

    if precision == "int8":
        export = export_command({"source_checkpoint": {"path": str(path)}}, Path("BUNDLE"), precision="int8")
        raise InputError(f"{path}: int8 needs an exported bundle: {export}")
    ckpt = load_checkpoint(path)
    config = ckpt.config
    amp = {"fp32": "off", "fp16": "fp16"}[precision]
    try:
        runtime = make_runtime(device=device, amp=amp)
    except ValueError as exc:
        raise InputError(f"--precision {precision}: {exc}") from exc
    model = ckpt.build_model().to(runtime.device)

    @torch.no_grad()
    def score(tiles: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(config.preprocessing.apply(tiles))
        with runtime.autocast():
            logits = model(runtime.to_device(x))
        return torch.softmax(logits.float(), dim=1)[:, config.positive_index].cpu().numpy()

    return config, score, lambda: None


def bundle_scorer(
    path: Path, *, backend: str, precision: str, max_batch: int, device: str
) -> tuple[ModelConfig, Callable, Callable]:
    """``(config, score, close)`` running a bundle through ``microcalc.engine`` backends."""
    from microcalc.bundle import Bundle
    from microcalc.engine.backends.selection import create_backend

    bundle = Bundle.load(path)
    engine = create_backend(backend, bundle, precision=precision, max_batch=max_batch, device=device)
    engine.activate()
    config = ModelConfig.from_dict({**bundle.config.to_dict(), "threshold": bundle.threshold})

    def score(tiles: np.ndarray) -> np.ndarray:
        return np.asarray(engine.infer(np.ascontiguousarray(tiles)).p_cluster, dtype=np.float32)

    return config, score, engine.deactivate


def open_model(
    model: Path, *, backend: str | None, precision: str, batch: int, device: str
) -> tuple[ModelConfig, Callable, Callable]:
    """A checkpoint file (torch backend) or a bundle folder (any backend)."""
    if model.is_dir():
        return bundle_scorer(
            model, backend=backend or "auto", precision=precision, max_batch=batch, device=device
        )
    if backend not in (None, "torch"):
        raise InputError(
            f"{model}: a checkpoint runs on the torch backend only; export a bundle for "
            f"--backend {backend}: mc-export --checkpoint {model} --out BUNDLE"
        )
    return checkpoint_scorer(model, precision=precision, device=device)


def evaluate(
    model: Path,
    items: list[Item],
    *,
    backend: str | None,
    precision: str,
    batch: int,
    policy: str,
    device: str = "auto",
    progress: bool = True,
) -> tuple[ModelConfig, np.ndarray]:
    """``p_cluster`` for every item, in order."""
    from tqdm.auto import tqdm

    config, score, close = open_model(model, backend=backend, precision=precision, batch=batch, device=device)
    scores = []
    try:
        with tqdm(
            total=len(items), desc="evaluating", unit="patch", leave=False, disable=not progress
        ) as bar:
            for tiles in batches(items, size=config.patch_size, policy=policy, batch=batch):
                scores.append(score(tiles))
                bar.update(len(tiles))
    finally:
        close()
    return config, np.concatenate(scores)
