"""Patch discovery, reading and fitting: the one-line errors users see for bad data sets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from microcalc.errors import InputError
from microcalc.imaging.patches import fit_patch, read_patch
from microcalc.trainer.cli_train import main as train_main
from microcalc.trainer.data import discover, stratified_split
from tests.trainer.stand_in import write_patches


def _bad_sets(root: Path) -> dict[str, tuple[Path, list[str], str]]:
    """name -> (data folder, extra args, text the error must contain)."""
    unreadable = write_patches(root / "unreadable", n_per_class=3, size=32, seed=0)
    (unreadable / "normal" / "broken.png").write_bytes(b"not a png at all")
    empty = write_patches(root / "empty", n_per_class=3, size=32, seed=0)
    (empty / "benign").mkdir()
    single = write_patches(root / "single", n_per_class=3, size=32, seed=0)
    for f in (single / "normal").iterdir():
        f.unlink()
    (single / "normal").rmdir()
    renamed = write_patches(root / "renamed", n_per_class=3, size=32, seed=0, classes=("1", "0"))
    mismatch = write_patches(root / "mismatch", n_per_class=3, size=40, seed=0)
    return {
        # a file that Pillow cannot decode: named, with the reason
        "unreadable": (unreadable, [], "broken.png: unreadable .png file"),
        # a class folder with no images at all
        "empty_class": (empty, [], "class folder 'benign' holds no images"),
        # only one class: nothing to discriminate
        "single_class": (single, [], "only one class found"),
        # folders 1/0 without --positive-class 1
        "missing_positive": (renamed, [], "positive class 'cluster' is not among the classes found (0, 1)"),
        # 40x40 patches for a 32x32 model, default --fit error
        "patch_size_mismatch": (mismatch, [], "patch is 40x40 but the patch size is 32x32"),
    }


@pytest.mark.parametrize(
    "case", ["unreadable", "empty_class", "single_class", "missing_positive", "patch_size_mismatch"]
)
def test_bad_data_gives_one_line_error(case, tmp_path, monkeypatch, capsys):
    data, extra, expected = _bad_sets(tmp_path)[case]
    out = tmp_path / "run"
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "mc-train",
            str(data),
            "--out",
            str(out),
            "--arch",
            "smallcnn",
            "--patch-size",
            "32",
            "--epochs",
            "1",
            "--quiet",
            *extra,
        ],
    )
    with pytest.raises(SystemExit) as exc:
        train_main()
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    assert err.startswith("mc-train: error: ") and expected in err
    assert not (out / "checkpoint.pt").exists()


def test_positive_class_selects_folder(tmp_path):
    data = write_patches(tmp_path / "d", n_per_class=2, size=16, seed=0, classes=("1", "0"))
    ps = discover(data, positive_class="1")
    assert ps.classes == ("1", "0")  # the positive class is logit 0, as in the published model
    assert sorted(ps.labels.tolist()) == [0, 0, 1, 1]


def test_manifest_csv(tmp_path):
    data = write_patches(tmp_path / "d", n_per_class=2, size=16, seed=0)
    rows = ["path,label"] + [
        f"{p.relative_to(tmp_path)},{p.parent.name}" for p in sorted(data.rglob("*.png"))
    ]
    (tmp_path / "m.csv").write_text("\n".join(rows) + "\n")
    ps = discover(tmp_path / "m.csv", positive_class="cluster")
    assert len(ps) == 4 and ps.classes == ("cluster", "normal")
    assert all(s.path.is_file() for s in ps.samples)


@pytest.mark.parametrize(
    "policy,shape,expected_centre",
    [
        ("crop-pad", (40, 40), 7),  # larger: centre crop keeps the centre pixel value
        ("crop-pad", (20, 20), 7),  # smaller: zero pad around the patch
        ("resize", (64, 64), 7),  # resized: a constant patch stays constant
    ],
)
def test_fit_policies(policy, shape, expected_centre):
    out = fit_patch(np.full(shape, 7, np.uint8), size=32, policy=policy, path=Path("p.png"))
    assert out.shape == (32, 32) and out.dtype == np.uint8
    assert out[16, 16] == expected_centre
    if shape[0] < 32:
        assert out[0, 0] == 0


def test_rgb_and_16bit_read_as_gray(tmp_path):
    Image.fromarray(np.full((8, 8, 3), 200, np.uint8)).save(tmp_path / "rgb.png")
    deep = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    Image.fromarray(deep).save(tmp_path / "deep.tif")
    rgb, gray16 = read_patch(tmp_path / "rgb.png"), read_patch(tmp_path / "deep.tif")
    assert rgb.dtype == gray16.dtype == np.uint8 and rgb.shape == gray16.shape == (8, 8)
    assert rgb[0, 0] == 200 and gray16.max() == 255 and gray16.min() == 0


def test_dicom_patch(tmp_path):
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    pixels = np.arange(256, dtype=np.uint16).reshape(16, 16) * 16
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = (
        meta.MediaStorageSOPClassUID,
        meta.MediaStorageSOPInstanceUID,
        "MG",
    )
    ds.Rows = ds.Columns = 16
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = pixels.tobytes()
    ds.save_as(tmp_path / "patch.dcm", enforce_file_format=True)
    out = read_patch(tmp_path / "patch.dcm")
    assert out.shape == (16, 16) and out.dtype == np.uint8
    assert out[0, 0] < out[-1, -1]  # MONOCHROME2: brighter stays brighter


def test_stratified_split_keeps_proportions():
    labels = np.array([0] * 20 + [1] * 80)
    train, val = stratified_split(labels, fraction=0.2, seed=0)
    assert len(val) == 20 and set(train) | set(val) == set(range(100)) and not set(train) & set(val)
    assert np.bincount(labels[val]).tolist() == [4, 16]


def test_split_needs_two_per_class():
    with pytest.raises(InputError, match="at least 2 patches per class"):
        stratified_split(np.array([0, 1, 1, 1]), fraction=0.5, seed=0)
