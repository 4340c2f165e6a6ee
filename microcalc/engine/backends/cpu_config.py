"""How OpenVINO spreads one model over this host's cores: the configuration chosen per host and model.

A configuration is the performance hint (``THROUGHPUT``: one CPU stream per physical core, one
thread each, the batches in flight side by side; ``LATENCY``: one stream with every core on each
batch) and whether OpenVINO pins its stream threads to cores. Where the configuration comes from
(``source``, recorded in every scan report's ``runtime``):

* ``measured``: ``mc-bench --tune`` timed every configuration of :data:`ALTERNATIVES` on this
  host with this model variant, as mc-scan runs it (two batches in flight), and stored the fastest
  in ``MICROCALC_HOME/tuning/<host key>.json`` under the model's SHA-256; mc-scan reads that entry,
  so choosing costs it no start-up time.
* ``rule``: otherwise, ``THROUGHPUT`` with pinned threads, OpenVINO's own choice on Linux and what
  mc-scan ran before issue 26. Pinned streams cannot leave a core that the pipeline's own threads
  (decode, tile copies, the triage session) or other processes hold, which is why ``--tune`` times
  unpinned ones too; on the shared 2-core EPYC of issue 26 (load average 30 and more) the two used
  the same CPU time per scan and their wall times were noise (benchmarks/RESULTS.md), so the rule
  was left as it was.

The host key names the CPU model, its inference flags (AVX-512, VNNI, AMX) and its cores, so a
cache copied to another kind of machine is not used there.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from microcalc.atomic import atomic_path
from microcalc.engine.cpu_info import CpuInfo, cpu_info
from microcalc.errors import MicrocalcError

HINTS = ("LATENCY", "THROUGHPUT")
CACHE_FORMAT = "microcalc-cpu-tuning"


@dataclass(frozen=True)
class CpuConfig:
    """One way to run the model on the CPU; ``source`` says why it was chosen (see the module docstring)."""

    hint: str = "THROUGHPUT"
    pinning: bool = True
    source: str = "rule"

    def __post_init__(self) -> None:
        if self.hint not in HINTS:
            raise MicrocalcError(
                f"unknown OpenVINO performance hint {self.hint!r}; expected one of {', '.join(HINTS)}"
            )

    @property
    def name(self) -> str:
        """Short label, e.g. ``throughput-unpinned`` (mc-bench's table of alternatives)."""
        return f"{self.hint.lower()}-{'pinned' if self.pinning else 'unpinned'}"

    def openvino_properties(self) -> dict[str, str]:
        return {"PERFORMANCE_HINT": self.hint, "ENABLE_CPU_PINNING": "YES" if self.pinning else "NO"}

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "hint": self.hint, "pinning": self.pinning, "source": self.source}


RULE = CpuConfig()
ALTERNATIVES = (
    CpuConfig("THROUGHPUT", False),
    CpuConfig("THROUGHPUT", True),
    CpuConfig("LATENCY", False),
    CpuConfig("LATENCY", True),
)


def host_key(info: CpuInfo | None = None) -> str:
    """``<cpu model>-<flags>-<physical>c<logical>t`` as a file-name-safe slug."""
    info = info or cpu_info()
    flags = "-".join(sorted(info.flags)) or "noflags"
    raw = f"{info.model}-{flags}-{info.physical_cores}c{info.logical_cores}t"
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw).strip("_")[:200]


def cache_path(info: CpuInfo | None = None) -> Path:
    from microcalc.defaults import home

    return home() / "tuning" / f"{host_key(info)}.json"


def load_choice(model_sha256: str | None, *, path: Path | None = None) -> CpuConfig | None:
    """The configuration ``mc-bench --tune`` measured fastest for this model on this host, if any.
    An unreadable or foreign cache file is ignored (the rule applies), never fatal to a scan."""
    path = path or cache_path()
    if not model_sha256 or not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        entry = data["models"][model_sha256]["choice"]
        return CpuConfig(hint=entry["hint"], pinning=bool(entry["pinning"]), source="measured")
    except (OSError, ValueError, KeyError, TypeError, MicrocalcError):
        return None


def choose(model_sha256: str | None) -> CpuConfig:
    """The measured choice for this host and model, else :data:`RULE`."""
    return load_choice(model_sha256) or RULE


def store_choice(
    model_sha256: str, choice: CpuConfig, *, measured: list[dict[str, Any]], path: Path | None = None
) -> Path:
    """Record ``choice`` (and what it was chosen from) for ``model_sha256`` in this host's cache file."""
    path = path or cache_path()
    data: dict[str, Any] = {"format": CACHE_FORMAT, "host": host_key(), "models": {}}
    if path.is_file():
        try:
            previous = json.loads(path.read_text(encoding="utf-8"))
            if previous.get("format") == CACHE_FORMAT:
                data["models"] = dict(previous.get("models", {}))
        except (OSError, ValueError):
            pass  # a damaged cache is replaced by this measurement
    data["models"][model_sha256] = {
        "choice": {"hint": choice.hint, "pinning": choice.pinning},
        "measured": measured,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    return path
