"""What an ensemble costs per tile: one model's bundle against a k-member ensemble's, interleaved.

Each repeat times one synchronous batch on every (backend, bundle) pair in turn, so both see the
same load on a shared machine; the figure is the median over repeats of wall and CPU milliseconds
per patch, and of the ensemble/single ratio taken within each repeat. Compute does not depend on
the weights, so without ``--single``/``--ensemble`` the script exports random checkpoints of
``--arch`` at ``--patch-size`` (FP32, parity not checked) to measure the architecture alone.

    nice -n 10 python benchmarks/ensemble_cost.py --work /tmp/cost --arch resnet18 --patch-size 224 \\
        --members 3 --out results.json
    python benchmarks/ensemble_cost.py --single seed-0/bundle --ensemble ensemble/bundle --out results.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from microcalc.bench.machine import machine_info
from microcalc.bench.stats import median
from microcalc.bundle import Bundle
from microcalc.engine.backends.selection import create_backend


def random_bundles(work: Path, *, arch: str, patch_size: int, members: int) -> tuple[Path, Path]:
    """A single-model bundle and a ``members``-model ensemble bundle of random weights."""
    import torch

    from microcalc.export.pipeline import ExportOptions, export_bundle
    from microcalc.model_config import ModelConfig
    from microcalc.models import create_model
    from microcalc.models.checkpoint import save_checkpoint

    config = ModelConfig(arch=arch, classes=("cluster", "normal"), positive_index=0, patch_size=patch_size)
    paths = []
    for seed in range(members):
        torch.manual_seed(seed)
        path = work / f"member{seed}.pt"
        if not path.is_file():
            save_checkpoint(path, state_dict=create_model(arch, num_classes=2).state_dict(), config=config)
        paths.append(path)
    options = ExportOptions(check_parity=False)
    for out, chosen in ((work / "single", paths[:1]), (work / "ensemble", paths)):
        if not (out / "bundle.json").is_file():
            export_bundle(chosen, out, options=options, log=lambda line: None)
    return work / "single", work / "ensemble"


def measure(bundles: dict[str, Path], *, backends: list[str], batch: int, repeats: int) -> dict[str, Any]:
    """Interleaved timings: ``{backend: {bundle name: {...}, "ratio_wall": .., "ratio_cpu": ..}}``."""
    loaded = {name: Bundle.load(path) for name, path in bundles.items()}
    size = next(iter(loaded.values())).config.patch_size
    tiles = np.random.default_rng(0).integers(0, 256, (batch, 1, size, size), dtype=np.uint8)
    runs = {
        (b, name): create_backend(b, bundle, precision="fp32", max_batch=batch)
        for b in backends
        for name, bundle in loaded.items()
    }
    samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in runs}
    for backend in runs.values():
        backend.activate()
        backend.infer(tiles)  # warm-up: compilation, first allocations
    try:
        for _ in range(repeats):
            for key, backend in runs.items():
                wall, cpu = time.perf_counter(), time.process_time()
                backend.infer(tiles)
                samples[key].append(
                    ((time.perf_counter() - wall) * 1e3 / batch, (time.process_time() - cpu) * 1e3 / batch)
                )
    finally:
        for backend in runs.values():
            backend.deactivate()
    out: dict[str, Any] = {}
    single, ensemble = list(bundles)
    for b in backends:
        s, e = samples[(b, single)], samples[(b, ensemble)]
        out[b] = {
            name: {
                "wall_ms_per_patch": median([w for w, _ in samples[(b, name)]]),
                "cpu_ms_per_patch": median([c for _, c in samples[(b, name)]]),
            }
            for name in bundles
        }
        out[b]["ratio_wall"] = median([ew / sw for (sw, _), (ew, _) in zip(s, e)])
        out[b]["ratio_cpu"] = median([ec / sc for (_, sc), (_, ec) in zip(s, e)])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--single", type=Path, help="bundle of one model")
    parser.add_argument("--ensemble", type=Path, help="bundle of the ensemble")
    parser.add_argument("--work", type=Path, help="where random bundles go (without --single/--ensemble)")
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--patch-size", type=int, default=224)
    parser.add_argument("--members", type=int, default=3)
    parser.add_argument("--backends", nargs="+", default=["onnxruntime", "openvino"])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, required=True, help="results JSON")
    a = parser.parse_args()
    if a.single is None or a.ensemble is None:
        if a.work is None:
            parser.error("give --single and --ensemble, or --work for random bundles")
        a.work.mkdir(parents=True, exist_ok=True)
        a.single, a.ensemble = random_bundles(a.work, arch=a.arch, patch_size=a.patch_size, members=a.members)
    load_before = os.getloadavg()
    result = {
        "single": str(a.single),
        "ensemble": str(a.ensemble),
        "members": len(Bundle.load(a.ensemble).manifest.get("ensemble", {}).get("members", [])),
        "batch": a.batch,
        "repeats": a.repeats,
        "machine": machine_info(),
        "load_average_before": load_before,
        "timings": measure(
            {"single": a.single, "ensemble": a.ensemble},
            backends=a.backends,
            batch=a.batch,
            repeats=a.repeats,
        ),
        "load_average_after": os.getloadavg(),
    }
    a.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["timings"], indent=2))


if __name__ == "__main__":
    main()
