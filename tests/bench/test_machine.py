"""Machine and software record: present keys and the libraries that shape the figures."""

from microcalc.bench.machine import library_versions, machine_info
from microcalc.engine.cpu_info import FLAGS_OF_INTEREST


def test_machine_info_records_cpu_and_libraries():
    info = machine_info()
    assert info["cpu"]["logical_cores"] >= 1 and info["cpu"]["model"]
    assert set(info["cpu"]["flags"]) <= set(FLAGS_OF_INTEREST)
    assert isinstance(info["gpus"], list)  # empty without nvidia-smi
    assert "numpy" in info["libraries"] and "onnxruntime" in info["libraries"]


def test_absent_library_is_left_out():
    assert library_versions(("numpy", "no-such-package-xyz")).keys() == {"numpy"}
