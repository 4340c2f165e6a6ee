"""Bundle manifest: load, verify hashes, pick variants, refuse stale files, replace atomically."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from microcalc.atomic import commit_dir, staging_dir
from microcalc.bundle import MANIFEST, Bundle, Variant, file_sha256, write_manifest
from microcalc.errors import InputError, StaleArtifactError
from microcalc.model_config import published_config


def _make_bundle(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "model.onnx").write_bytes(b"fp32 model")
    (root / "model.fp16.onnx").write_bytes(b"fp16 model")
    (root / "model.fp16.tensorrt_rtx.engine").write_bytes(b"engine")
    fp16_sha = file_sha256(root / "model.fp16.onnx")
    (root / "model.fp16.tensorrt_rtx.json").write_text(json.dumps({"onnx_sha256": fp16_sha}))
    variants = [
        Variant(
            name="fp32",
            format="onnx",
            precision="fp32",
            file="model.onnx",
            sha256=file_sha256(root / "model.onnx"),
            parity={"max_abs_diff": 0.0},
        ),
        Variant(name="fp16", format="onnx", precision="fp16", file="model.fp16.onnx", sha256=fp16_sha),
        Variant(
            name="fp16.tensorrt_rtx",
            format="tensorrt",
            precision="fp16",
            library="tensorrt_rtx",
            file="model.fp16.tensorrt_rtx.engine",
            sha256=file_sha256(root / "model.fp16.tensorrt_rtx.engine"),
            sidecar="model.fp16.tensorrt_rtx.json",
            onnx_sha256=fp16_sha,
        ),
    ]
    write_manifest(
        root,
        config=published_config(),
        variants=variants,
        created="2025-01-01T00:00:00+00:00",
        microcalc_version="0.1.0",
        source_checkpoint={"path": "/ckpt/published.tar", "sha256": "0" * 64, "source": "published"},
        input_spec={"name": "tiles", "dtype": "uint8", "shape": ["N", 1, 674, 674]},
        outputs=[{"name": "p_cluster", "dtype": "float32", "shape": ["N"]}],
    )
    return root


def test_load_and_pick_variants(tmp_path: Path) -> None:
    bundle = Bundle.load(_make_bundle(tmp_path / "b"))
    assert bundle.config == published_config()
    assert [v.name for v in bundle.variants] == ["fp32", "fp16", "fp16.tensorrt_rtx"]
    assert bundle.variant(precision="fp16", fmt="tensorrt").library == "tensorrt_rtx"
    assert bundle.file(bundle.variant(precision="fp32")).read_bytes() == b"fp32 model"
    assert bundle.variant(precision="fp32").parity == {"max_abs_diff": 0.0}
    assert bundle.threshold == 0.5
    with pytest.raises(InputError, match="no int8 onnx variant"):
        bundle.variant(precision="int8")


@pytest.mark.parametrize(
    "tamper, error",
    [
        # an altered model file no longer matches its SHA-256
        (lambda r: (r / "model.onnx").write_bytes(b"other weights"), StaleArtifactError),
        # a missing engine
        (lambda r: (r / "model.fp16.tensorrt_rtx.engine").unlink(), StaleArtifactError),
        # the engine's sidecar names another ONNX model
        (
            lambda r: (r / "model.fp16.tensorrt_rtx.json").write_text(json.dumps({"onnx_sha256": "f" * 64})),
            StaleArtifactError,
        ),
        # a corrupt manifest
        (lambda r: (r / "bundle.json").write_text("{not json"), InputError),
        # a manifest of some other tool
        (lambda r: (r / "bundle.json").write_text(json.dumps({"format": "other"})), InputError),
    ],
)
def test_stale_or_broken_bundle_refused_with_rebuild_hint(tmp_path: Path, tamper, error) -> None:
    root = _make_bundle(tmp_path / "b")
    tamper(root)
    with pytest.raises(error, match="mc-export --checkpoint") as info:
        Bundle.load(root)
    assert "\n" not in str(info.value)


def test_verify_false_skips_hashes(tmp_path: Path) -> None:
    root = _make_bundle(tmp_path / "b")
    (root / "model.onnx").write_bytes(b"changed")
    assert Bundle.load(root, verify=False).variant(precision="fp32").file == "model.onnx"


def test_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a model bundle"):
        Bundle.load(tmp_path / "nothing")


def test_commit_dir_replaces_old_bundle_and_refuses_other_folders(tmp_path: Path) -> None:
    target = _make_bundle(tmp_path / "b")
    staging = staging_dir(target)
    _make_bundle(staging)
    (staging / "marker").write_text("new")
    commit_dir(staging, target, marker=MANIFEST)
    assert (target / "marker").read_text() == "new" and not staging.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["b"]  # the old bundle moved aside is gone
    other = tmp_path / "photos"
    other.mkdir()
    (other / "cat.jpg").write_bytes(b"x")
    with pytest.raises(InputError, match="not a model bundle"):
        commit_dir(staging_dir(other), other, marker=MANIFEST)


def test_staging_dir_unwritable_parent(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write"):
        staging_dir(blocker / "bundle")


def test_source_checkpoint_missing_changed_and_matching(tmp_path: Path) -> None:
    from microcalc.errors import InputError, StaleArtifactError

    bundle = Bundle.load(_make_bundle(tmp_path / "b"))
    with pytest.raises(InputError, match="source checkpoint /ckpt/published.tar is not there"):
        bundle.source_checkpoint()  # the manifest's path does not exist here
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the exported weights")
    with pytest.raises(StaleArtifactError, match="SHA-256 differs.*mc-export"):
        bundle.source_checkpoint(other)  # a different file: parity would be meaningless
    bundle.manifest["source_checkpoint"]["sha256"] = file_sha256(other)
    assert bundle.source_checkpoint(other) == other  # the exported file itself is accepted
