"""The suite's host modes reach the libraries that choose kernels (README "Testing").

``make test HOST_MODE=noamx`` caps oneDNN with ``ONEDNN_MAX_CPU_ISA``; a cap that never reached
oneDNN (a misspelt value, a torch build that ignores it) would make the mode a silent copy of the
default one. oneDNN reports the ISA it dispatches to in its verbose log, read here from a fresh
interpreter because the cap is read once, when oneDNN first runs a primitive.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest
import torch

from microcalc.trainer import loop

pytestmark = pytest.mark.host_sensitive  # CI runs it in the no-AMX mode, where its cap is checked

CONV = (
    "import torch; torch.set_num_threads(1); "
    "torch.nn.Conv2d(3, 8, 3)(torch.randn(2, 3, 16, 16)).sum().backward()"
)
x86_with_onednn = pytest.mark.skipif(
    platform.machine() not in ("x86_64", "AMD64") or not torch.backends.mkldnn.is_available(),
    reason="oneDNN's ISA caps are x86 names; this torch has no oneDNN or the CPU is not x86",
)


def onednn_isa(**env: str) -> str:
    """The ISA line oneDNN logs for a convolution run under this environment plus ``env``."""
    run_env = {**os.environ, **env, "ONEDNN_VERBOSE": "1"}
    out = subprocess.run(
        [sys.executable, "-c", CONV], env=run_env, capture_output=True, text=True, timeout=300, check=True
    ).stdout
    lines = [line for line in out.splitlines() if ",info,cpu,isa:" in line]
    assert lines, out[-2000:]
    return lines[0].split("isa:", 1)[1]


@x86_with_onednn
def test_an_isa_cap_reaches_onednn() -> None:
    """Capped at AVX2, oneDNN says it runs AVX2 kernels, whatever this CPU has above it."""
    if not torch.cpu._is_avx2_supported():
        pytest.skip("this CPU has no AVX2: nothing to cap")
    assert onednn_isa(ONEDNN_MAX_CPU_ISA="AVX2") == "Intel AVX2"


@x86_with_onednn
def test_this_runs_cap_reaches_onednn() -> None:
    """In the no-AMX mode the suite's own environment keeps oneDNN off AMX (and off AVX512-BF16)."""
    cap = os.environ.get("ONEDNN_MAX_CPU_ISA")
    if cap is None:
        pytest.skip("default host mode: no ISA cap to check (make test HOST_MODE=noamx sets one)")
    isa = onednn_isa()
    assert "AMX" not in isa, isa
    if cap.upper() in ("AVX512_CORE_VNNI", "AVX512_CORE", "AVX2", "AVX2_VNNI"):
        assert "bfloat16" not in isa, isa
    assert loop.make_runtime(device="cpu", amp="auto").amp_dtype is None


@pytest.mark.parametrize(
    "cap, bf16",
    [
        (None, True),  # an AMX CPU, uncapped: bf16 autocast
        ("AVX512_CORE_AMX", True),
        ("avx512_core_amx_fp16", True),
        ("ALL", True),
        ("AVX512_CORE_VNNI", False),  # capped below AMX: behaves as a CPU without it
        ("AVX512_CORE_BF16", False),
        ("AVX2", False),
    ],
)
def test_amp_auto_follows_the_isa_cap(monkeypatch, cap: str | None, bf16: bool) -> None:
    """``--amp auto`` on a CPU with AMX tiles is bf16 unless oneDNN is capped below AMX."""
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    if cap is None:
        monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    else:
        monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    runtime = loop.make_runtime(device="cpu", amp="auto")
    assert runtime.amp_dtype == (torch.bfloat16 if bf16 else None)


def test_amp_auto_is_float32_without_amx(monkeypatch) -> None:
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    assert loop.make_runtime(device="cpu", amp="auto").amp_dtype is None
