"""The per-host CPU configuration (microcalc.engine.backends.cpu_config): rule, measured cache, overrides,
and what OpenVinoBackend passes to OpenVINO and reports. No OpenVINO needed: nothing is activated."""

from __future__ import annotations

import json

import pytest

from microcalc.engine.backends import cpu_config
from microcalc.engine.backends.cpu_config import ALTERNATIVES, RULE, CpuConfig
from microcalc.engine.backends.openvino import OpenVinoBackend
from microcalc.engine.cpu_info import CpuInfo
from microcalc.errors import MicrocalcError

SHA = "ab" * 32


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MICROCALC_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _backend(tmp_path, **kwargs) -> OpenVinoBackend:
    return OpenVinoBackend(tmp_path / "m.onnx", input_shape=(1, 64, 64), max_batch=2, **kwargs)


def test_without_a_measurement_the_rule_applies_pinned_throughput(tmp_path):
    backend = _backend(tmp_path, model_sha256=SHA)
    assert backend.cpu_config == RULE and RULE.source == "rule"
    assert backend.config["PERFORMANCE_HINT"] == "THROUGHPUT"
    assert backend.config["ENABLE_CPU_PINNING"] == "YES"
    assert backend.runtime() == {
        "name": "throughput-pinned",
        "hint": "THROUGHPUT",
        "pinning": True,
        "source": "rule",
        "requests": 2,
    }


def test_the_measured_choice_of_this_host_and_model_is_used(tmp_path):
    measured = [{"config": c.name, "cpu_ms_per_tile": 1.0} for c in ALTERNATIVES]
    path = cpu_config.store_choice(SHA, CpuConfig("LATENCY", True), measured=measured)
    assert path == cpu_config.cache_path() and path.parent.name == "tuning"
    backend = _backend(tmp_path, model_sha256=SHA)
    assert backend.cpu_config == CpuConfig("LATENCY", True, source="measured")
    assert backend.config["PERFORMANCE_HINT"] == "LATENCY" and backend.config["ENABLE_CPU_PINNING"] == "YES"
    assert _backend(tmp_path, model_sha256="cd" * 32).cpu_config == RULE  # another model: not measured
    assert json.loads(path.read_text())["models"][SHA]["measured"] == measured


def test_a_second_model_keeps_the_first_models_entry():
    cpu_config.store_choice(SHA, CpuConfig("LATENCY", False), measured=[])
    cpu_config.store_choice("cd" * 32, CpuConfig("THROUGHPUT", True), measured=[])
    assert cpu_config.load_choice(SHA) == CpuConfig("LATENCY", False, source="measured")


BAD_HINT = json.dumps({"models": {SHA: {"choice": {"hint": "FAST", "pinning": False}}}})


@pytest.mark.parametrize("content", ["{not json", BAD_HINT])
def test_a_damaged_cache_falls_back_to_the_rule(tmp_path, content):
    path = cpu_config.cache_path()
    path.parent.mkdir(parents=True)
    path.write_text(content)
    assert _backend(tmp_path, model_sha256=SHA).cpu_config == RULE


def test_asked_settings_override_the_hosts_choice(tmp_path):
    cpu_config.store_choice(SHA, CpuConfig("LATENCY", True), measured=[])
    backend = _backend(tmp_path, model_sha256=SHA, pinning=False)
    assert backend.cpu_config == CpuConfig("LATENCY", False, source="asked")
    assert _backend(tmp_path, model_sha256=SHA, performance_hint="THROUGHPUT").cpu_config.pinning is True
    with pytest.raises(MicrocalcError, match="unknown OpenVINO performance hint 'FAST'"):
        _backend(tmp_path, performance_hint="FAST")


def test_host_key_names_the_cpu_its_flags_and_cores():
    zen = CpuInfo(
        model="AMD EPYC 9454", flags=frozenset({"avx512f", "avx512_vnni"}), logical_cores=2, physical_cores=2
    )
    amx = CpuInfo(
        model="Intel Xeon 8480+", flags=frozenset({"amx_int8", "amx_tile"}), logical_cores=2, physical_cores=1
    )
    assert cpu_config.host_key(zen) == "AMD_EPYC_9454-avx512_vnni-avx512f-2c2t"
    assert cpu_config.host_key(zen) != cpu_config.host_key(amx)


def test_tune_times_every_alternative_and_the_next_backend_runs_the_fastest(tiny_bundle, tiles, tmp_path):
    """mc-bench --tune on the tiny model: each configuration compiled and timed, the fastest stored, and
    the registry's next OpenVINO backend of that variant takes it as ``measured`` (what the report shows)."""
    pytest.importorskip("openvino")
    from microcalc.bench.tune import tune_openvino
    from microcalc.bundle import Bundle
    from microcalc.engine.backends import selection

    bundle = Bundle.load(tiny_bundle)
    tuning = tune_openvino(bundle, precision="fp32", batch_size=2, tiles=tiles, rounds=1, batches=2)
    names = [a["name"] for a in tuning["alternatives"]]
    assert names == [c.name for c in ALTERNATIVES]
    assert all(a["wall_ms_per_tile"] > 0 and a["cpu_ms_per_tile"] >= 0 for a in tuning["alternatives"])
    fastest = min(tuning["alternatives"], key=lambda a: a["wall_ms_per_tile"])
    assert tuning["chosen"] == fastest["name"]
    with selection.create_backend("openvino", bundle, precision="fp32", max_batch=2) as backend:
        runtime = backend.runtime()
        assert (runtime["name"], runtime["source"]) == (fastest["name"], "measured")
        assert runtime["num_streams"] >= 1 and runtime["inference_num_threads"] >= 1


def test_onnxruntime_cpu_sessions_sleep_between_operators(tmp_path):
    """The main ONNX Runtime CPU session and the triage session never spin-wait (issue 26: 1.16-1.42x
    the CPU time per patch on a shared host); GPU providers keep ONNX Runtime's default."""
    ort = pytest.importorskip("onnxruntime")
    from microcalc.engine.backends.onnxruntime import OnnxRuntimeBackend

    def spinning(provider: str) -> str | None:
        shape = (1, 8, 8)
        backend = OnnxRuntimeBackend(tmp_path / "m.onnx", input_shape=shape, max_batch=1, provider=provider)
        options = backend._session_options(ort)
        key = "session.intra_op.allow_spinning"
        try:
            return options.get_session_config_entry(key)
        except RuntimeError:  # ONNX Runtime's answer for an entry never set
            return None

    assert spinning("cpu") == "0"
    assert spinning("cuda") is None


def test_the_triage_session_sleeps_between_operators(tmp_path):
    pytest.importorskip("onnx")
    from microcalc.bundle import Bundle
    from microcalc.engine.triage import Triage
    from tests.engine.engine_fakes import add_max_triage, write_tiny_bundle

    bundle = Bundle.load(
        add_max_triage(write_tiny_bundle(tmp_path / "b", patch=64, threshold=0.1), threshold=0.5)
    )
    triage = Triage.from_bundle(bundle)
    options = triage.backend(64).session.get_session_options()  # the main models' ONNX Runtime class
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
