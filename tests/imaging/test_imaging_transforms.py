"""PS3.3 transforms and to_uint8, compared with pydicom's own functions on exact values."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut

from microcalc.imaging import present, to_uint8
from microcalc.imaging.transforms import breast_window, invert_monochrome1, voi_output_range


def _ds(**tags) -> Dataset:
    ds = Dataset()
    ds.BitsStored, ds.BitsAllocated, ds.PixelRepresentation = 12, 16, 0
    ds.PhotometricInterpretation = "MONOCHROME2"
    for key, value in tags.items():
        setattr(ds, key, value)
    return ds


def _ramp() -> np.ndarray:
    return np.arange(0, 4096, 4, dtype=np.uint16).reshape(32, 32)


def _voi_seq_ds() -> Dataset:
    item = Dataset()
    item.LUTDescriptor = [4096, 0, 10]
    item.LUTData = [int(v) for v in np.minimum(np.arange(4096) // 3, 1023)]
    return _ds(VOILUTSequence=[item])


@pytest.mark.parametrize(
    "value_range, image, expected",
    [
        ((0.0, 255.0), [[0.0, 127.4, 255.0]], [[0, 127, 255]]),  # identity range, round to nearest
        ((100.0, 200.0), [[50.0, 150.0, 300.0]], [[0, 128, 255]]),  # clipped below and above, midpoint
        ((0.0, 4095.0), [[0.0, 4095.0, 2047.5]], [[0, 255, 128]]),  # 12-bit full range
    ],
)
def test_to_uint8_with_range_is_linear(value_range, image, expected):
    out = to_uint8(np.array(image), value_range=value_range)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, expected)


def test_to_uint8_without_window_stretches_the_breast_not_the_air():
    img = np.zeros((200, 200), dtype=np.float64)  # flat air
    img[:, 100:] = np.linspace(1000.0, 3000.0, 100)[None, :]  # tissue ramp
    lo, hi = breast_window(img)
    assert 1000.0 <= lo < 1100.0 and 2900.0 < hi <= 3000.0
    out = to_uint8(img)
    assert out[:, :100].max() == 0 and out[:, 100:].max() == 255


def test_to_uint8_keeps_uint8_and_all_tissue_crops():
    u8 = np.arange(256, dtype=np.uint8).reshape(16, 16)
    np.testing.assert_array_equal(to_uint8(u8), u8)  # already the 8-bit domain
    tissue = np.linspace(500.0, 1500.0, 400).reshape(20, 20)  # no air: no pixels dropped as background
    assert breast_window(tissue)[0] < 510.0


@pytest.mark.parametrize(
    "tags",
    [
        {"WindowCenter": 2048, "WindowWidth": 1000},  # LINEAR (the default function)
        {"WindowCenter": 1500, "WindowWidth": 2000, "VOILUTFunction": "LINEAR_EXACT"},  # C.11.2.1.3.2
        {"WindowCenter": 2000, "WindowWidth": 1500, "VOILUTFunction": "SIGMOID"},  # C.11.2.1.3.1
        {
            "WindowCenter": 100,
            "WindowWidth": 400,
            "RescaleSlope": 0.5,
            "RescaleIntercept": -500,
        },  # modality LUT first
    ],
)
def test_present_matches_pydicom_windowing(tags):
    ds = _ds(**tags)
    arr = _ramp()
    lo, hi = voi_output_range(ds)
    ref = apply_voi_lut(apply_modality_lut(arr, ds), ds)
    expected = np.clip(np.rint((ref - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
    out = present(arr, ds)
    assert np.abs(out.astype(int) - expected).max() <= 1  # float32 vs float64 rounding
    assert out[0, 0] <= out[-1, -1]


def test_present_uses_voi_lut_sequence():
    ds = _voi_seq_ds()
    arr = _ramp()
    assert voi_output_range(ds) == (0.0, 1023.0)
    expected = np.rint(apply_voi_lut(arr, ds).astype(np.float64) / 1023.0 * 255.0).astype(np.uint8)
    np.testing.assert_array_equal(present(arr, ds), expected)


def test_monochrome1_inverts_within_the_voi_range():
    arr = _ramp()
    mono2 = _ds(WindowCenter=2048, WindowWidth=4096, VOILUTFunction="LINEAR_EXACT")
    mono1 = _ds(
        WindowCenter=4095 - 2048,
        WindowWidth=4096,
        VOILUTFunction="LINEAR_EXACT",
        PhotometricInterpretation="MONOCHROME1",
    )
    inverted = (4095 - arr).astype(np.uint16)
    assert np.abs(present(inverted, mono1).astype(int) - present(arr, mono2)).max() <= 1
    np.testing.assert_array_equal(invert_monochrome1(arr, mono2, value_range=None), arr)  # MONOCHROME2: as is


def test_transforms_do_not_modify_inputs():
    ds = _ds(
        WindowCenter=2048, WindowWidth=1000, VOILUTFunction="SIGMOID", PhotometricInterpretation="MONOCHROME1"
    )
    before = ds.to_json_dict()
    arr = _ramp()
    copy = arr.copy()
    present(arr, ds)
    assert ds.to_json_dict() == before
    np.testing.assert_array_equal(arr, copy)


def test_imaging_imports_without_torch_or_onnx():
    code = (
        "import sys; import microcalc.imaging; "
        "bad = [m for m in ('torch', 'onnx') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    "tags,signed",
    [
        ({"WindowCenter": 2000, "WindowWidth": 3000}, False),  # LINEAR window
        ({"WindowCenter": 2000, "WindowWidth": 3000, "VOILUTFunction": "SIGMOID"}, False),  # SIGMOID
        ({}, False),  # no window: min-max
        ({"PhotometricInterpretation": "MONOCHROME1", "WindowCenter": 2000, "WindowWidth": 3000}, False),
        ({"RescaleSlope": 2, "RescaleIntercept": -100, "WindowCenter": 3000, "WindowWidth": 5000}, False),
        ({"PixelRepresentation": 1, "WindowCenter": 0, "WindowWidth": 3000}, True),  # signed pixels
    ],
)
def test_table_lookup_equals_the_per_pixel_chain(tags: dict, signed: bool) -> None:
    from microcalc.imaging.transforms import _present_chain

    rng = np.random.default_rng(3)
    stored = rng.integers(0, 4096, size=(300, 200)).astype(np.uint16)
    stored[:, :60] = 40  # flat air, so the no-window min-max has a background to drop
    if signed:
        stored = (stored.astype(np.int32) - 2048).astype(np.int16)
    ds = _ds(**tags)
    np.testing.assert_array_equal(present(stored, ds), _present_chain(stored, ds))


def test_table_lookup_in_row_chunks_with_an_offset_minimum() -> None:
    """Stored values starting above 0 (an offset index) over a height that is no multiple of the chunk."""
    from microcalc.imaging.transforms import _TABLE_ROWS, _present_chain

    rng = np.random.default_rng(4)
    stored = rng.integers(700, 4096, size=(3 * _TABLE_ROWS + 5, 90)).astype(np.uint16)
    ds = _ds(WindowCenter=2400, WindowWidth=3000)
    out = present(stored, ds)
    assert out.dtype == np.uint8 and out.flags.c_contiguous
    np.testing.assert_array_equal(out, _present_chain(stored, ds))
