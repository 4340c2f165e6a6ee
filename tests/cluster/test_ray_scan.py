"""``mc-scan --ray`` on a local Ray cluster that the module starts (2 CPUs): the same answers as
``mc-scan``, error rows, resuming, and a run killed between ledger parts.

Ray takes seconds to start, so one cluster serves the module and the tests are few and broad.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import pydicom
import pytest
from click.testing import CliRunner

from microcalc import scan_cli
from microcalc.cluster import driver
from microcalc.cluster.ledger import ERRORS_FILE, FINDINGS_FILE, Ledger
from microcalc.errors import MissingDependencyError

synth_cli = pytest.importorskip("microcalc.synth.cli", reason="mc-synth is needed for test mammograms")
pq = pytest.importorskip(
    "pyarrow.parquet", reason='pyarrow is not installed: pip install "microcalc[cluster]"'
)
pytestmark = pytest.mark.xdist_group("small_bundle")  # with the other users of the session bundle

SETTINGS = ["--overlap", "0.5", "--backend", "onnxruntime", "--precision", "fp32", "--batch-size", "8"]


@pytest.fixture(scope="module")
def ray_cluster():
    """A new local Ray cluster for this module (never one already running here), shut down after it."""
    ray = pytest.importorskip("ray", reason='Ray is not installed: pip install "microcalc[cluster]"')
    ray.init(
        address="local", num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level="WARNING"
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    """Three small synthetic mammograms (two with clusters) and a file that is not an image."""
    root = tmp_path_factory.mktemp("archive")
    paths = []
    for seed, clusters in ((5, 2), (6, 0), (7, 1)):
        path = root / f"mammo{seed}.dcm"
        result = CliRunner().invoke(
            synth_cli.cli,
            [
                "mammogram",
                str(path),
                "--rows",
                "1536",
                "--cols",
                "1280",
                "--clusters",
                str(clusters),
                "--seed",
                str(seed),
            ],
        )
        assert result.exit_code == 0, result.output
        path.with_suffix(".json").unlink()  # the ground truth is not an input
        paths.append(path)
    (root / "broken.dcm").write_bytes(b"DICM but not really")
    return [*paths, root / "broken.dcm"]


def scan(args: list[str]):
    return CliRunner().invoke(scan_cli.cli, args, catch_exceptions=False)


def reports(out: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


@pytest.fixture(scope="module")
def single_process(images, small_bundle, tmp_path_factory) -> dict[str, dict]:
    """The reference: plain ``mc-scan`` on the same inputs, bundle and settings."""
    out = tmp_path_factory.mktemp("single")
    result = scan([*map(str, images), "--model", str(small_bundle), "--out", str(out), *SETTINGS])
    assert result.exit_code == 1 and "broken.dcm" in result.output  # the bad file fails, the rest go on
    return reports(out)


def test_ray_scan_gives_mc_scan_answers_and_error_rows(
    ray_cluster, images, small_bundle, single_process, tmp_path
):
    manifest = tmp_path / "archive.csv"
    manifest.write_text("path\n" + "".join(f"{p}\n" for p in images))
    out = tmp_path / "out"
    pytest.importorskip("highdicom", reason='--sr needs pip install "microcalc[dicom]"')
    result = scan(
        [str(manifest), "--model", str(small_bundle), "--out", str(out), "--ray", "auto", "--sr", *SETTINGS]
    )
    assert result.exit_code == 1, result.output  # one input failed
    assert "3 done, 0 skipped (done before), 1 failed" in result.output
    got = reports(out)
    assert set(got) == set(single_process) == {"mammo5.json", "mammo6.json", "mammo7.json"}
    assert sum(len(r["findings"]) for r in got.values()) >= 1  # the comparison is not vacuous
    for name, ref in single_process.items():
        ray_report = got[name]
        for field in (
            "input",
            "sop_instance_uid",
            "rows",
            "cols",
            "model_sha256",
            "settings",
            "tiles_scanned",
            "max_score",
            "findings",
            "suspicious",
        ):
            assert ray_report[field] == ref[field], (name, field)
        assert (out / name).with_suffix(".png").is_file()
        assert pydicom.dcmread(out / name.replace(".json", ".sr.dcm")).Modality == "SR"
    findings = pq.read_table(out / FINDINGS_FILE).to_pylist()
    expected = sorted(
        (r["input"], f["bbox_px"]["x0"], f["bbox_px"]["y0"], f["score"])
        for r in single_process.values()
        for f in r["findings"]
    )
    assert sorted((f["input"], f["x0_px"], f["y0_px"], f["score"]) for f in findings) == expected
    errors = pq.read_table(out / ERRORS_FILE).to_pylist()
    assert [e["input"] for e in errors] == [str(images[3])] and "broken.dcm" in errors[0]["reason"]
    assert "\n" not in errors[0]["reason"]


def test_ray_scan_triages_as_mc_scan_does(ray_cluster, images, small_bundle, tmp_path):
    """A bundle with a triage model: the Ray model actors open the same session as mc-scan, so the
    same tiles are skipped and the same findings reported."""
    import shutil

    from tests.engine.engine_fakes import add_max_triage

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    add_max_triage(bundle, threshold=0.6)  # keeps the tiles holding a pixel at 153 or brighter
    inputs = [str(p) for p in images[:3]]
    local, on_ray = tmp_path / "local", tmp_path / "ray"
    result = scan([*inputs, "--model", str(bundle), "--out", str(local), *SETTINGS])
    assert result.exit_code == 0, result.output
    result = scan([*inputs, "--model", str(bundle), "--out", str(on_ray), "--ray", "auto", *SETTINGS])
    assert result.exit_code == 0, result.output
    want, got = reports(local), reports(on_ray)
    assert set(got) == set(want) == {"mammo5.json", "mammo6.json", "mammo7.json"}
    skipped = [r["triage"]["skipped"] for r in want.values()]
    assert sum(skipped) > 0 and all(r["triage"]["skipped"] < r["triage"]["tiles"] for r in want.values())
    for name, ref in want.items():
        for field in ("triage", "tiles_scanned", "max_score", "findings"):
            assert got[name][field] == ref[field], (name, field)


def test_killed_run_resumes_without_loss_or_duplicates(
    ray_cluster, images, small_bundle, single_process, tmp_path, monkeypatch
):
    """The driver dies after recording one image: the rerun skips it, does the rest, counts each once."""
    out = tmp_path / "out"
    recorded = []

    def append_then_die(self, rows):
        if recorded:
            raise KeyboardInterrupt  # killed before the second ledger part could land
        recorded.extend(rows)
        Ledger.append.__wrapped__(self, rows)

    append_then_die.__wrapped__ = Ledger.append
    monkeypatch.setattr(driver, "FLUSH_ROWS", 1)
    monkeypatch.setattr(Ledger, "append", append_then_die)
    args = [
        *map(str, images[:3]),
        "--model",
        str(small_bundle),
        "--out",
        str(out),
        "--ray",
        "auto",
        *SETTINGS,
    ]
    with pytest.raises(click.exceptions.Abort):  # click's answer to KeyboardInterrupt
        CliRunner().invoke(scan_cli.cli, args, catch_exceptions=False, standalone_mode=False)
    monkeypatch.undo()
    assert len(recorded) == 1 and not list(out.glob(".*.tmp")) and not list(out.glob("*.partial"))
    # the same image re-encoded (other bytes, same SOP Instance UID) is recognised as done too
    twin = pydicom.dcmread(recorded[0]["input"])
    twin.ImageComments = "re-encoded copy"
    twin.save_as(tmp_path / "twin.dcm")
    result = scan([*args, str(tmp_path / "twin.dcm")])
    assert result.exit_code == 0, result.output
    assert "2 done, 2 skipped (done before), 0 failed" in result.output
    done = [r for r in Ledger(out).rows() if r["status"] == "done"]
    assert sorted(Path(r["input"]).name for r in done) == ["mammo5.dcm", "mammo6.dcm", "mammo7.dcm"]
    findings = pq.read_table(out / FINDINGS_FILE).to_pylist()
    assert len(findings) == sum(len(r["findings"]) for r in single_process.values())
    assert reports(out).keys() == single_process.keys()


def test_without_ray_the_error_names_the_extra(monkeypatch, images, tmp_path, small_bundle):
    monkeypatch.setitem(__import__("sys").modules, "ray", None)  # import of a None entry raises ImportError
    with pytest.raises(MissingDependencyError, match=r'pip install "microcalc\[cluster\]"'):
        scan([str(images[0]), "--model", str(small_bundle), "--out", str(tmp_path), "--ray", "auto"])
