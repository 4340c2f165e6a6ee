"""Every mc-export command microcalc prints in an error parses with mc-export's own CLI."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from microcalc.bundle import Bundle, Variant
from microcalc.engine.backends.engine_check import engine_files
from microcalc.errors import InputError
from microcalc.export.cli import cli
from microcalc.model_config import ModelConfig
from microcalc.rebuild import rebuild_hint

COMMAND = re.compile(r"mc-export [^;\n]*")


def _variant(precision: str, fmt: str) -> Variant:
    suffix = "onnx" if fmt == "onnx" else "engine"
    return Variant(
        name=f"{precision}-{fmt}",
        format=fmt,
        precision=precision,
        file=f"m.{precision}.{suffix}",
        sha256="0" * 64,
        library="tensorrt_rtx" if fmt == "tensorrt" else None,
    )


def _bundle(root: Path, variants: list[Variant]) -> Bundle:
    manifest = {
        "source_checkpoint": {"path": str(root / "run dir" / "checkpoint.pt")},
        "variants": [v.to_dict() for v in variants],
    }
    config = ModelConfig(arch="smallcnn", classes=("cluster", "no_cluster"), positive_index=0, patch_size=64)
    return Bundle(path=root / "bundle", manifest=manifest, config=config, variants=variants)


def _parse(message: str) -> list[str]:
    """The mc-export command in ``message``, parsed by mc-export itself (click's error if it cannot)."""
    found = COMMAND.search(message)
    assert found, f"no mc-export command in: {message}"
    args = shlex.split(found.group(0))[1:]
    cli.make_context("mc-export", list(args))
    if "--int8" in args:
        assert "--calib" in args  # mc-export refuses --int8 without calibration patches
    return args


def _hints(tmp_path: Path) -> list[tuple[str, str]]:
    """(hint, what it must add) for every place that prints an mc-export command."""
    empty = _bundle(tmp_path, [])
    full = _bundle(tmp_path, [_variant(p, f) for p in ("fp32", "fp16", "int8") for f in ("onnx", "tensorrt")])
    hints = [(rebuild_hint(None, tmp_path / "b"), ""), (rebuild_hint(full.manifest, full.path), "--trt")]
    for precision in ("fp32", "fp16", "int8"):
        for fmt in ("onnx", "tensorrt"):
            with pytest.raises(InputError) as missing:
                empty.variant(precision=precision, fmt=fmt)
            wanted = {"fp32": "", "fp16": "--fp16", "int8": "--int8"}[precision]
            hints.append((str(missing.value), wanted if fmt == "onnx" else "--trt"))
            engine = full.variant(precision=precision, fmt="tensorrt")
            hints.append((engine_files(full, engine).rebuild, "--trt"))
    with pytest.raises(InputError) as absent:
        Bundle.load(tmp_path / "nothing")
    hints.append((str(absent.value), ""))
    from microcalc.trainer.evaluate import checkpoint_scorer

    with pytest.raises(InputError) as int8_checkpoint:
        checkpoint_scorer(tmp_path / "checkpoint.pt", precision="int8", device="cpu")
    hints.append((str(int8_checkpoint.value), "--int8"))
    return hints


def test_every_hint_parses_with_mc_export(tmp_path: Path) -> None:
    hints = _hints(tmp_path)
    assert len(hints) == 16
    for message, wanted in hints:
        try:
            args = _parse(message)
        except click.ClickException as exc:
            pytest.fail(f"{message!r} does not parse: {exc.format_message()}")
        assert wanted in args or not wanted, message


def test_full_rebuild_keeps_every_variant(tmp_path: Path) -> None:
    full = _bundle(tmp_path, [_variant(p, "onnx") for p in ("fp32", "fp16", "int8")])
    args = _parse(rebuild_hint(full.manifest, full.path))
    assert {"--fp16", "--int8", "--calib"} <= set(args) and "--trt" not in args
    assert args[args.index("--checkpoint") + 1] == str(tmp_path / "run dir" / "checkpoint.pt")  # quoted space
