"""Machine and software record: present keys and the libraries that shape the figures."""

from microcalc.bench.machine import library_versions, machine_info


def test_machine_info_records_cpu_and_libraries():
    info = machine_info()
    assert info["cpu"]["logical_cores"] >= 1 and info["cpu"]["model"]
    assert set(info["cpu"]["flags"]) <= {
        "avx2",
        "avx512f",
        "avx512_vnni",
        "avx_vnni",
        "avx512_bf16",
        "avx512_fp16",
        "amx_tile",
        "amx_int8",
        "amx_bf16",
    }
    assert isinstance(info["gpus"], list)  # empty without nvidia-smi
    assert "numpy" in info["libraries"] and "onnxruntime" in info["libraries"]


def test_absent_library_is_left_out():
    assert library_versions(("numpy", "no-such-package-xyz")).keys() == {"numpy"}
