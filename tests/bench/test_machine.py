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


def test_host_kind_names_the_family_and_its_int8_kernels():
    from microcalc.bench.machine import host_kind

    assert (
        host_kind("Intel(R) Xeon(R) Processor", {"amx_tile", "amx_int8", "avx512_vnni"}) == "intel-xeon-amx"
    )
    assert host_kind("AMD EPYC 9454 48-Core Processor", {"avx512f", "avx512_vnni"}) == "amd-epyc-vnni"
    assert host_kind("", set()) == "cpu-novnni"
    info = machine_info()
    assert info["cpu"]["host_kind"] == host_kind(info["cpu"]["model"], set(info["cpu"]["flags"]))
    assert len(info["load_average"]) == 3
