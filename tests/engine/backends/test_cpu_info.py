"""cpu_info: flags and physical cores parsed from /proc/cpuinfo text."""

from __future__ import annotations

from microcalc.engine.cpu_info import cpu_info, parse_cpuinfo


def _block(cpu: int, core: int, flags: str) -> str:
    return (
        f"processor\t: {cpu}\nmodel name\t: Test Xeon\nphysical id\t: 0\ncore id\t\t: {core}\n"
        f"flags\t\t: fpu {flags}\n"
    )


def test_hyperthreads_count_once_and_flags_filtered():
    text = "\n".join(
        _block(cpu, cpu % 2, "avx2 avx512f avx512_vnni amx_tile amx_int8 sse") for cpu in range(4)
    )
    info = parse_cpuinfo(text)
    assert (info.logical_cores, info.physical_cores) == (4, 2)
    assert info.flags == {"avx2", "avx512f", "avx512_vnni", "amx_tile", "amx_int8"}
    assert info.fast_int8 and info.has_amx_int8 and not info.has_bf16
    assert info.model == "Test Xeon" and "2 physical / 4 logical" in info.summary()


def test_affinity_limits_the_cores():
    text = "\n".join(_block(cpu, cpu, "avx2") for cpu in range(8))
    info = parse_cpuinfo(text, allowed={0, 1, 2})
    assert (info.logical_cores, info.physical_cores) == (3, 3) and not info.fast_int8


def test_this_machine():
    info = cpu_info()
    assert 1 <= info.physical_cores <= info.logical_cores
