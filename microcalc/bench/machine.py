"""What machine and software a report was measured on, so reports compare across versions.

The CPU part comes from :mod:`microcalc.engine.cpu_info`, the same reading the backends use to
pick kernels (AVX-512, VNNI, AMX). The GPU and driver come from ``nvidia-smi`` when it is
installed; nothing here needs a GPU or imports torch.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
from importlib import metadata
from typing import Any

from microcalc.engine.backends.cpu_config import host_key
from microcalc.engine.cpu_info import FLAGS_OF_INTEREST, cpu_info

LIBRARIES = (
    "microcalc",
    "numpy",
    "onnxruntime",
    "onnxruntime-gpu",
    "openvino",
    "torch",
    "onnx",
    "tensorrt",
    "tensorrt_rtx",
    "cuda-python",
    "pydicom",
    "scikit-learn",
)


def host_kind(model: str, flags: frozenset[str] | set[str]) -> str:
    """A short name for the kind of host, e.g. ``intel-xeon-amx`` or ``amd-epyc-vnni``: the CPU family and
    its best INT8 kernels, what decides the figures (the names of recorded reports, benchmarks/results/)."""
    noise = {"r", "tm", "processor", "cpu", "genuine", "authentic"}
    words = [w for w in re.findall(r"[a-z0-9]+", model.lower()) if w not in noise][:2] or ["cpu"]
    kernels = "amx" if "amx_int8" in flags else "vnni" if flags & {"avx512_vnni", "avx_vnni"} else "novnni"
    return "-".join([*words, kernels])


def cpu_report() -> dict[str, Any]:
    """CPU model, the flags that decide the INT8/BF16 kernels, and the cores this process may use."""
    info = cpu_info()
    return {
        "model": info.model,
        "flags": [f for f in FLAGS_OF_INTEREST if f in info.flags],
        "physical_cores": info.physical_cores,
        "logical_cores": info.logical_cores,
        "fast_int8": info.fast_int8,
        "host_kind": host_kind(info.model, info.flags),
        "host_key": host_key(info),  # the kind of host: model, flags, cores (cpu_config's tuning cache key)
        "summary": info.summary(),
    }


def gpu_info() -> list[dict[str, str]]:
    """One entry per NVIDIA GPU (name, driver, memory) from ``nvidia-smi``; empty when there is none."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    gpus = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            gpus.append({"name": parts[0], "driver": parts[1], "memory": parts[2]})
    return gpus


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Installed versions of the libraries that shape the figures (absent ones are left out)."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def machine_info() -> dict[str, Any]:
    """The report's ``machine`` object."""
    return {
        "hostname": platform.node(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu_report(),
        "load_average": [round(v, 2) for v in os.getloadavg()],  # others sharing the cores, at the start
        "gpus": gpu_info(),
        "libraries": library_versions(),
    }
