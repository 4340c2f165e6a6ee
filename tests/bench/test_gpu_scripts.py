"""scripts/gpu_verify.sh and benchmarks/gpu_suite.sh without a GPU: syntax, the dry-run plan, the
carried wheels spread over calls and joined again, and the suite's export/bench flags agreeing."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VERIFY = ROOT / "scripts" / "gpu_verify.sh"
SUITE = ROOT / "benchmarks" / "gpu_suite.sh"


def _bash(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(env or {})},
    )


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "MC_GPU_WORK": str(tmp_path / "work"),
        "OUT": str(tmp_path / "out"),
        "MC_GPU_CORES": "4",
        "MC_GPU_PACK_DIR": str(tmp_path / "pack"),
        **extra,
    }


@pytest.mark.parametrize("script", [VERIFY, SUITE, ROOT / "benchmarks" / "suite_common.sh"])
def test_scripts_parse(script):
    assert _bash("-n", str(script)).returncode == 0


def test_dry_run_plans_every_stage(tmp_path):
    proc = _bash(str(VERIFY), "--dry-run", "all", env=_env(tmp_path))
    assert proc.returncode == 0, proc.stderr
    plan = proc.stdout
    assert "-m pytest -m gpu" in plan  # GPU-marked tests
    assert plan.count("mc-synth patches") == 8 and "--patch-size 674" in plan  # 4 processes x 2 sets
    assert plan.count("mc-synth mammogram") == 50 and "--rows 4096 --cols 3328" in plan
    assert "mc-train" in plan and "--arch resnet101 --patch-size 674 --device cuda --amp bf16" in plan
    assert "--fp16 --int8" in plan and "--max-batch 64 --opt-batch 64" in plan  # covers batch 64
    assert r"MC_BENCH_GPU_BATCH_SIZES=1\,8\,32\,64" in plan and "bash benchmarks/gpu_suite.sh" in plan
    assert "MC_BENCH_DECODE_WORKERS=2" in plan
    assert "--backends openvino\\,onnxruntime --precisions fp32\\,fp16\\,int8" in plan  # ONNX parity
    assert "--fp16 --trt" in plan and "--backends tensorrt" in plan  # the RTX attempt
    stages = (tmp_path / "work" / "out" / "stages.tsv").read_text().splitlines()
    assert [line.split("\t")[:2] for line in stages] == [
        [s, "0"]
        for s in ("install", "env", "tests", "data", "train", "export", "bench", "parity", "rtx", "report")
    ]


def test_pack_plan_uses_the_device_pip_flags(tmp_path):
    proc = _bash(str(VERIFY), "--dry-run", "pack", env=_env(tmp_path, MC_GPU_WHEELS="pydicom==3.0.1"))
    assert proc.returncode == 0, proc.stderr
    assert (
        "pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "
        "--platform manylinux_2_28_x86_64"
    ) in proc.stdout and "pydicom==3.0.1" in proc.stdout


def test_unknown_stage_is_refused(tmp_path):
    proc = _bash(str(VERIFY), "--dry-run", "tarin", env=_env(tmp_path))
    assert proc.returncode == 2 and "unknown stage tarin" in proc.stderr


def test_wheels_spread_over_calls_and_join_on_the_device(tmp_path):
    """A 2.5 MiB wheel crosses three 1 MiB calls in parts; the device joins it only once all are there."""
    wheels = tmp_path / "pack" / "wheels"
    wheels.mkdir(parents=True)
    big = os.urandom(5 << 19)
    (wheels / "big-1.0-py3-none-any.whl").write_bytes(big)
    (wheels / "small-1.0-py3-none-any.whl").write_bytes(os.urandom(400 << 10))
    env = _env(tmp_path, MC_GPU_PACK_MIB="1", MC_GPU_WHEELS="")
    assert _bash(str(VERIFY), "--dry-run", "pack", env=env).returncode == 0
    calls = [sorted(p.name for p in (tmp_path / "pack" / f"call{i}").iterdir()) for i in (1, 2, 3)]
    assert all(
        sum((tmp_path / "pack" / f"call{i}" / n).stat().st_size for n in names) <= 1 << 20
        for i, names in zip((1, 2, 3), calls)
    )
    assert sorted(n for names in calls for n in names) == sorted(
        [
            "big-1.0-py3-none-any.whl.part00",
            "big-1.0-py3-none-any.whl.part01",
            "big-1.0-py3-none-any.whl.part02",
            "big-1.0-py3-none-any.whl.sha256",
            "small-1.0-py3-none-any.whl",
        ]
    )
    early = tmp_path / "early"  # the checksum came with the first part only: nothing is joined yet
    (early / "wheels").mkdir(parents=True)
    for name in ("big-1.0-py3-none-any.whl.sha256", "big-1.0-py3-none-any.whl.part00"):
        shutil.copy(next((tmp_path / "pack").glob(f"call*/{name}")), early / "wheels")
    proc = _bash(str(VERIFY), "--dry-run", "install", env={**env, "MC_GPU_WORK": str(early)})
    assert "big-1.0-py3-none-any.whl: parts still missing" in proc.stdout
    assert sorted(p.name for p in (early / "wheels").iterdir()) == [
        "big-1.0-py3-none-any.whl.part00",
        "big-1.0-py3-none-any.whl.sha256",
    ]
    arrived = tmp_path / "work" / "wheels"
    arrived.mkdir(parents=True)
    joined = arrived / "big-1.0-py3-none-any.whl"
    for i in (1, 2, 3):  # each call carries one folder; install runs after each
        shutil.copytree(tmp_path / "pack" / f"call{i}", arrived, dirs_exist_ok=True)
        proc = _bash(str(VERIFY), "--dry-run", "install", env=env)
        assert proc.returncode == 0
        complete = {n for names in calls[:i] for n in names} >= set(calls[0] + calls[1] + calls[2]) - {
            "small-1.0-py3-none-any.whl"
        }
        assert joined.exists() is complete
    assert hashlib.sha256(joined.read_bytes()).digest() == hashlib.sha256(big).digest()
    assert not list(arrived.glob("*.part*"))


def test_gpu_suite_exports_for_the_largest_batch_it_measures(tmp_path):
    """Stub binaries record their arguments: mc-export's --max-batch covers mc-bench's --batch-sizes."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls.txt"
    bin_dir.mkdir()
    stub = f"""#!/usr/bin/env bash
echo "$(basename "$0") $*" >> {calls}
case "$(basename "$0")" in
  python) exit 1 ;;  # no tensorrt_rtx here
  mc-synth) mkdir -p "$2/cluster" ;;
  mc-train) mkdir -p "$3" && touch "$3/checkpoint.pt" ;;
  mc-export) mkdir -p "$4" && touch "$4/bundle.json" ;;
esac
"""
    for name in ("python", "mc-synth", "mc-train", "mc-export", "mc-bench"):
        (bin_dir / name).write_text(stub)
        (bin_dir / name).chmod(stat.S_IRWXU)
    worklist = tmp_path / "worklist"
    worklist.mkdir()
    proc = _bash(
        str(SUITE),
        env={
            "MC_BENCH_BIN": str(bin_dir),
            "MC_BENCH_WORK": str(tmp_path / "w"),
            "MC_BENCH_RESULTS": str(tmp_path / "r"),
            "MC_BENCH_WORKLIST": str(worklist),
            "MC_BENCH_DECODE_WORKERS": "14",
        },
    )
    assert proc.returncode == 0, proc.stderr
    lines = calls.read_text().splitlines()
    export = next(line for line in lines if line.startswith("mc-export"))
    bench = next(line for line in lines if line.startswith("mc-bench"))
    assert "--max-batch 64" in export
    assert "--batch-sizes 1,8,32,64" in bench and "--duration 3 --warmup-ms 200 --in-flight 3" in bench
    assert f"--worklist {worklist} --decode-workers 14" in bench and "--backends torch-cuda,tensorrt" in bench
    assert "--target-fp16-patches-per-s 2000 --target-images-per-s 40" in bench


def test_wheels_listed_first_travel_first(tmp_path):
    """The first call's stages need the small wheels: the order of MC_GPU_WHEELS decides, not size."""
    wheels = tmp_path / "pack" / "wheels"
    wheels.mkdir(parents=True)
    (wheels / "big-1.0-py3-none-any.whl").write_bytes(os.urandom(5 << 19))
    (wheels / "small-1.0-py3-none-any.whl").write_bytes(os.urandom(400 << 10))
    env = _env(tmp_path, MC_GPU_PACK_MIB="1", MC_GPU_WHEELS="small==1.0 big==1.0")
    assert _bash(str(VERIFY), "--dry-run", "pack", env=env).returncode == 0
    first = sorted(p.name for p in (tmp_path / "pack" / "call1").iterdir())
    assert first[-1] == "small-1.0-py3-none-any.whl" and "big-1.0-py3-none-any.whl.part00" not in first
