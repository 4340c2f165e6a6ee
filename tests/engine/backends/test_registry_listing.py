"""The registry is the one list of backends: CLI choices, availability, selection, creation and
mc-bench all read it, so a backend registered once appears everywhere."""

from __future__ import annotations

import click
import pytest

from microcalc.bench import options as bench_options
from microcalc.bench.variants import bench_names
from microcalc.bundle import Bundle
from microcalc.engine.backends import registry, selection
from microcalc.engine.backends.base import PRECISIONS
from microcalc.engine.scan_options import backend_choice, precision_choice
from microcalc.errors import MicrocalcError
from microcalc.scan_cli import cli as mc_scan
from microcalc.trainer.cli_eval import cli as mc_eval


def _choices(command: click.Command, name: str) -> list[str]:
    return list(next(p for p in command.params if p.name == name).type.choices)


def test_cli_choices_are_the_registry():
    """mc-scan's and mc-eval's --backend list auto and the registered names; --precision the bundle's."""
    assert _choices(mc_scan, "backend") == ["auto", *registry.names()]
    assert _choices(mc_eval, "backend") == ["auto", *registry.names()]
    assert _choices(mc_scan, "precision") == ["auto", *PRECISIONS]
    assert _choices(mc_eval, "precision") == list(PRECISIONS)
    assert bench_options.DEFAULT_BACKENDS.split(",") == [n for n in registry.names() if n != "torch"]
    assert bench_options.BENCH_PRECISIONS == ("fp32", "fp16", "int8", "bf16")
    assert set(bench_names()) == {*registry.names(), "onnxruntime-cuda", "torch-cuda"}


def test_each_backend_module_registers_itself():
    """Four backends, each with its devices and precisions, each made by its own ``from_bundle``."""
    specs = {n: registry.get(n) for n in registry.names()}
    assert {n: s.devices for n, s in specs.items()} == {
        "onnxruntime": ("cpu", "cuda"),
        "openvino": ("cpu",),
        "tensorrt": ("cuda",),
        "torch": ("cpu", "cuda"),
    }
    assert specs["torch"].precisions == ("fp32", "fp16", "bf16") and specs["torch"].reference
    assert registry.devices() == ("auto", "cpu", "cuda")
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(registry.BackendSpec("onnxruntime", ("cpu",), ("fp32",), print, lambda: (True, "")))


class _Made:
    def __init__(self, **kwargs):
        self.kwargs = kwargs


@pytest.fixture
def fake_registered(monkeypatch):
    """A backend 'fake' registered once (on a copy of the registry, undone after the test)."""
    monkeypatch.setattr(registry, "_SPECS", dict(registry._SPECS))
    registry.register(
        registry.BackendSpec(
            name="fake",
            devices=("cpu", "cuda"),
            precisions=("fp32",),
            from_bundle=lambda bundle, **kwargs: _Made(bundle=bundle, **kwargs),
            status=lambda: (True, "always"),
        )
    )


def test_a_backend_registered_once_appears_everywhere(fake_registered, tiny_bundle):
    assert "fake" in registry.names()
    assert ("fake", True, "always") in registry.backend_status()
    assert "fake" in backend_choice().choices and "fake-cuda" in bench_names()
    bundle = Bundle.load(tiny_bundle)
    assert selection.resolve("fake", "fp32", bundle=bundle).backend == "fake"
    made = selection.create_backend("fake", bundle, precision="fp32", max_batch=3, device="cuda")
    assert made.kwargs == {"bundle": bundle, "precision": "fp32", "device": "cuda", "max_batch": 3}
    with pytest.raises(MicrocalcError, match="unknown precision 'int8' for fake; expected one of fp32"):
        selection.create_backend("fake", bundle, precision="int8", max_batch=3)


def test_unknown_names_and_devices_list_the_registry(tiny_bundle):
    with pytest.raises(MicrocalcError, match="unknown backend 'nope'; expected auto or one of onnxruntime, "):
        selection.create_backend("nope", tiny_bundle, precision="fp32", max_batch=2)
    with pytest.raises(MicrocalcError, match="the openvino backend runs on cpu, not cuda"):
        selection.create_backend("openvino", tiny_bundle, precision="fp32", max_batch=2, device="cuda")
    assert precision_choice(auto=True).choices[0] == "auto"
