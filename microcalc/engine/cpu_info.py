"""What this CPU can do for inference, read from ``/proc/cpuinfo`` (no third-party imports).

Backends and the registry use it to pick a precision (INT8 pays off only with VNNI or AMX,
BF16 only with AMX-BF16 or AVX512-BF16) and to size thread pools (one intra-op thread per
physical core: hyper-threads share the vector units and only add contention). ``mc-bench``
reports it next to its figures so that numbers from different machines are not compared blindly.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

FLAGS_OF_INTEREST = (
    "avx2",
    "avx512f",
    "avx512_vnni",
    "avx_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_int8",
    "amx_bf16",
)
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class CpuInfo:
    """The CPU model, the flags that matter for inference, and usable core counts.

    Attributes:
        model: the ``model name`` line (or ``platform.processor()`` where /proc is absent).
        flags: the subset of :data:`FLAGS_OF_INTEREST` this CPU reports.
        logical_cores: CPUs this process may run on (honours taskset/cgroup affinity).
        physical_cores: distinct (package, core) pairs among them; hyper-threads count once.
    """

    model: str
    flags: frozenset[str]
    logical_cores: int
    physical_cores: int

    @property
    def has_vnni(self) -> bool:
        """INT8 dot-product instructions (AVX512-VNNI or AVX-VNNI): INT8 beats FP32."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni"})

    @property
    def has_amx_int8(self) -> bool:
        return {"amx_tile", "amx_int8"} <= self.flags

    @property
    def has_bf16(self) -> bool:
        """Native BF16 math (AMX-BF16 or AVX512-BF16): OpenVINO runs an FP16 request as BF16."""
        return bool(self.flags & {"amx_bf16", "avx512_bf16"})

    @property
    def fast_int8(self) -> bool:
        """Whether INT8 inference is worth choosing automatically on this CPU."""
        return self.has_vnni or self.has_amx_int8

    def summary(self) -> str:
        shown = ", ".join(f for f in FLAGS_OF_INTEREST if f in self.flags) or "none"
        return f"{self.model} ({self.physical_cores} physical / {self.logical_cores} logical cores; {shown})"


def parse_cpuinfo(text: str, *, allowed: set[int] | None = None) -> CpuInfo:
    """Parse the text of ``/proc/cpuinfo``; ``allowed`` limits to the CPUs this process may use."""
    model, flags = "", frozenset()
    cores: set[tuple[str, str]] = set()
    logical = 0
    for block in text.strip().split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, sep, value = line.partition(":")
            if sep:
                fields[key.strip()] = value.strip()
        if "processor" not in fields:
            continue
        if allowed is not None and int(fields["processor"]) not in allowed:
            continue
        logical += 1
        model = model or fields.get("model name", "")
        if not flags and "flags" in fields:
            flags = frozenset(fields["flags"].split()) & set(FLAGS_OF_INTEREST)
        cores.add((fields.get("physical id", "0"), fields.get("core id", fields["processor"])))
    logical = logical or (os.cpu_count() or 1)
    return CpuInfo(
        model=model or platform.processor() or "unknown CPU",
        flags=flags,
        logical_cores=logical,
        physical_cores=max(1, len(cores)) if cores else logical,
    )


def cpu_info() -> CpuInfo:
    """This machine's CPU; on systems without ``/proc/cpuinfo`` flags are empty (INT8 not preferred)."""
    try:
        allowed = set(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        allowed = None
    try:
        text = CPUINFO.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return parse_cpuinfo(text, allowed=allowed)
