"""``mc-froc``: FROC of the product as it runs, and image-level operating points for a bundle."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
from rich.console import Console

from microcalc.atomic import ensure_output_dir
from microcalc.cli_common import CONTEXT_SETTINGS, run_cli
from microcalc.cli_options import out_dir_option
from microcalc.engine.scan_options import (
    decode_timeout_option,
    scan_options,
    spacing_options,
    threshold_options,
    triage_option,
)
from microcalc.errors import InputError


@click.command(context_settings=CONTEXT_SETTINGS)
@click.argument("bundle_dir", metavar="BUNDLE", type=click.Path(path_type=Path))
@click.argument("cases", nargs=-1, required=True)
@out_dir_option(default=Path("froc"), help="Folder for froc.csv, froc.json and froc.png.")
@click.option(
    "--truth",
    "truth_csv",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV image,row,col,radius_mm (empty cluster fields: a normal image) [default: the "
    "mc-synth JSON beside each image].",
)
@scan_options
@spacing_options
@threshold_options
@triage_option
@decode_timeout_option
@click.option(
    "--calibrate",
    is_flag=True,
    help="Add the operating points fp0.1, fp0.25, fp0.5, fp1 found on these cases to the bundle "
    "and make fp0.25 its default.",
)
@click.option("--force", is_flag=True, help="Scan DICOM images whose Modality is not MG.")
def cli(
    bundle_dir: Path,
    cases: tuple[str, ...],
    *,
    out_dir: Path,
    truth_csv: Path | None,
    backend: str,
    precision: str,
    overlap: float,
    batch_size: int,
    min_breast: float,
    spacing: float | None,
    native_grid: bool,
    operating_point: str | None,
    threshold: float | None,
    triage: bool | None,
    decode_timeout: float,
    calibrate: bool,
    force: bool,
) -> None:
    """Measure cluster sensitivity against false positives per image on mammograms with ground truth.

    Each CASE (files, folders or globs) is scanned once through the same Scanner as mc-scan; the
    findings mc-scan would report are then judged at every threshold. A cluster is detected when
    a finding's box contains its centre or the box's centre lies within its radius (one hit per
    cluster); every other finding is a false positive. Images are resampled to the model's pixel
    spacing as mc-scan does (--native-grid: not, to measure what that is worth). Writes OUT/froc.csv,
    OUT/froc.json
    (sensitivity at 0.1, 0.25, 0.5, 1 and 2 FP/image, image-level AUC, per-image results at the
    operating point) and OUT/froc.png. With --calibrate the bundle gains the image-level operating
    points fp0.1..fp1 and fp0.25 becomes its default (bundle.json only; every file's SHA-256 stays valid).

    Example: mc-froc bundle calib/*.dcm --out froc_calib --calibrate
    """
    from microcalc.bundle import Bundle
    from microcalc.engine.inputs import expand_inputs
    from microcalc.engine.session import open_scan, plan_scan
    from microcalc.evaluation import outputs
    from microcalc.evaluation.calibrate import image_points, write_points
    from microcalc.evaluation.froc import image_auc
    from microcalc.evaluation.run import froc_curve, per_image, scan_cases
    from microcalc.evaluation.truth import read_truth_csv, truth_for
    from microcalc.operating_points import point_label

    console = Console(stderr=True)

    def say(line: str) -> None:
        console.print(f"mc-froc: {line}", highlight=False, markup=False, soft_wrap=True)

    bundle = Bundle.load(bundle_dir)
    paths = expand_inputs(list(cases))
    table = read_truth_csv(truth_csv) if truth_csv is not None else None
    truths = [truth_for(p, table) for p in paths]  # every truth is checked before the slow scan
    # untrusted cases too: decoded in a worker process, so a hang or crash costs that case only
    plan = plan_scan(bundle, click.get_current_context().params, force=force)
    chosen = plan.point
    if calibrate and native_grid:
        raise click.UsageError(
            "--calibrate with --native-grid would calibrate a scan that mc-scan does not run"
        )
    ensure_output_dir(out_dir)
    failed: list[str] = []

    def done(path: Path, error: str | None) -> None:
        if error is not None:
            say(f"error: {error}")
            failed.append(str(path))

    start = time.perf_counter()
    with open_scan(plan, paths=paths, say=say) as session:
        scanned = scan_cases(session, truths, on_done=done)
        run, triage_model = session.run, session.triage
    scan_s = time.perf_counter() - start
    if not scanned:
        raise InputError(f"none of the {len(paths)} cases could be scanned")
    curve = froc_curve(scanned, extra_thresholds=[chosen.threshold])
    label = point_label(chosen.to_dict())
    at_point = {**curve.at_threshold(chosen.threshold), "label": label}
    scan_record = {
        "overlap": overlap,
        "min_breast": min_breast,
        "model_spacing_mm": bundle.config.pixel_spacing_mm,
        "native_grid": native_grid,
        "triage": triage_model.entry.to_dict() if triage_model else None,
    }
    report = {
        "format": "microcalc-froc",
        "bundle": str(bundle.path),
        "model_sha256": run.model_sha256,
        "backend": run.backend,
        "precision": run.precision,
        "settings": scan_record,
        "images": curve.n_images,
        "images_with_clusters": sum(1 for c in scanned if c.clusters.shape[0]),
        "normal_images": sum(1 for c in scanned if not c.clusters.shape[0]),
        "clusters": curve.n_clusters,
        "failed": failed,
        "scan_seconds": round(scan_s, 2),
        "image_auc": image_auc(*zip(*[(c.max_score, c.clusters.shape[0] > 0) for c in scanned])),
        "sensitivity_at_fp": {k: (v or {}).get("sensitivity") for k, v in outputs.at_fp_table(curve).items()},
        "points_at_fp": outputs.at_fp_table(curve),
        "operating_point": chosen.to_dict(),
        "at_operating_point": at_point,
        "per_image": per_image(scanned, chosen.threshold),
    }
    if calibrate:
        if failed:
            raise InputError(f"{len(failed)} case(s) failed to scan; not calibrating on an incomplete set")
        points, notes = image_points(curve, scan=scan_record)
        for note in notes:
            say(f"note: {note}")
        bundle = write_points(bundle, points)
        report["calibrated"] = [p.to_dict() for p in points]
        say(
            f"{bundle.path}: operating points {', '.join(p.name for p in points) or 'none'} written; default "
            f"{bundle.operating_points.default or 'unchanged'} (threshold {bundle.threshold:.4g}); "
            "SHA-256 checks pass"
        )
    for note in outputs.write_all(
        out_dir,
        curve,
        report,
        marked=at_point,
        title=f"{bundle.config.arch} {bundle.config.patch_size} px, {curve.n_images} "
        f"images, {curve.n_clusters} clusters ({run.backend} {run.precision})",
    ):
        say(f"note: {note}")
    Console().print(outputs.console_table(curve, report))
    click.echo(
        f"at {label}: cluster sensitivity {at_point['sensitivity']:.3f}, "
        f"{at_point['fp_per_image']:.3f} false positives per image ({curve.n_images} images, "
        f"{curve.n_clusters} clusters; scanned in {scan_s:.1f} s) -> {out_dir / 'froc.json'}"
    )
    if failed:
        sys.exit(1)


main = run_cli(cli, "mc-froc")

if __name__ == "__main__":
    main()
