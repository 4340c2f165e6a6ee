"""Mutation fuzzer of the DICOM reader: ``python tests/fuzz/fuzz.py --inputs 100000`` (``make fuzz``).

Seeds are small ``mc-synth mammogram`` files in every transfer syntax and photometric
interpretation it writes; each input is a mutant (:mod:`mutate`) read through the decoder
process exactly as ``mc-scan`` reads it (:class:`~microcalc.imaging.isolated.IsolatedReader`).
Every input must end as an image that keeps the reader's promises or as one ``InputError`` line
that names the file. Anything else is recorded and its input saved under ``--save`` (by default
``tests/fuzz/regressions/``, which ``test_fuzz.py`` replays):

- ``crash``: an ``InternalError`` (a bug in the reader), a broken promise, or a decoder process
  that died (a native crash, contained by the isolation but still a decoder bug);
- ``hang``: a read that took longer than ``--timeout`` and was killed.

``--batch DIR --count N [--large M]`` instead writes N mutants (and M of full-size mammograms) plus
the valid seeds to DIR for one ``mc-scan``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
from mutate import Mutator

from microcalc.errors import InputError, InternalError
from microcalc.imaging import read_mammogram
from microcalc.imaging.isolated import IsolatedReader

HERE = Path(__file__).resolve().parent
REGRESSIONS = HERE / "regressions"
# (transfer syntax, photometric, extra mc-synth options): every syntax x both photometric interpretations
SEED_SPECS = [
    (ts, pi, ()) for ts in ("explicit", "rle", "jpeg2000") for pi in ("MONOCHROME2", "MONOCHROME1")
] + [
    ("explicit", "MONOCHROME2", ("--bits-stored", "16", "--voi-function", "SIGMOID")),
    ("rle", "MONOCHROME1", ("--bits-stored", "14", "--voi-function", "LINEAR_EXACT")),
]
DIED = "the decoder process died"
TIMED_OUT = "was abandoned"


def make_seeds(folder: Path) -> list[Path]:
    """Write the seed mammograms (256x256, a few ms to decode) with ``mc-synth`` into ``folder``."""
    from microcalc.synth.cli import cli

    folder.mkdir(parents=True, exist_ok=True)
    seeds = []
    for k, (ts, pi, extra) in enumerate(SEED_SPECS):
        path = folder / f"seed-{ts}-{pi.lower()}-{k}.dcm"
        if not path.is_file():
            cli.main(
                [
                    "mammogram",
                    str(path),
                    "--rows",
                    "256",
                    "--cols",
                    "256",
                    "--clusters",
                    "0",
                    "--isolated",
                    "2",
                    "--seed",
                    str(k),
                    "--transfer-syntax",
                    ts,
                    "--photometric",
                    pi,
                    *extra,
                ],
                standalone_mode=False,
            )
        seeds.append(path)
    return seeds


def judge(path: Path, read: IsolatedReader) -> tuple[str, str]:
    """``(outcome, detail)``: outcome is ``image``, ``refused``, ``crash`` or ``hang``."""
    try:
        image = read(path)
    except InputError as exc:
        line = str(exc)
        if TIMED_OUT in line:
            return "hang", line
        if DIED in line:
            return "crash", line
        if "\n" in line or not line.startswith(f"{path}: "):
            return "crash", f"refusal is not one line naming the file: {line!r}"
        return "refused", line
    except InternalError as exc:
        return "crash", str(exc)
    return _check_image(image)


def _check_image(image: object) -> tuple[str, str]:
    pixels, meta = image.pixels, image.meta
    if not (
        isinstance(pixels, np.ndarray)
        and pixels.dtype == np.uint8
        and pixels.ndim == 2
        and pixels.flags.c_contiguous
        and pixels.shape == (meta.rows, meta.cols)
    ):
        return "crash", f"broken image promise: {type(pixels).__name__} {getattr(pixels, 'shape', None)}"
    spacing = meta.pixel_spacing_mm
    if spacing is not None and not all(math.isfinite(v) and v > 0 for v in spacing):
        return "crash", f"broken image promise: pixel spacing {spacing}"
    return "image", ""


def save(data: bytes, kind: str, folder: Path) -> Path:
    """Keep a failing input as a regression case named by its content."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{kind}-{hashlib.sha256(data).hexdigest()[:12]}.dcm"
    path.write_bytes(data)
    return path


def fuzz(
    seeds: list[Path],
    *,
    inputs: int | None,
    seconds: float | None,
    seed: int = 0,
    timeout_s: float = 10.0,
    save_to: Path | None = None,
    progress_s: float = 0.0,
) -> dict:
    """Run the fuzzer; returns the report (counts, rate, each crash and hang with its saved file)."""
    mutator = Mutator(seed)
    datas = [(p.name, p.read_bytes()) for p in seeds]
    outcomes: Counter = Counter()
    refusals: Counter = Counter()
    failures = []
    done = 0
    start = last = time.perf_counter()
    with (
        tempfile.TemporaryDirectory(prefix="mc-fuzz-") as tmp,
        IsolatedReader(partial(read_mammogram, force=True), timeout_s=timeout_s) as read,
    ):
        target = Path(tmp) / "input.dcm"
        while (inputs is None or done < inputs) and (
            seconds is None or time.perf_counter() - start < seconds
        ):
            name, data = datas[mutator.rng.randrange(len(datas))]
            what, mutant = mutator.mutate(data)
            target.write_bytes(mutant)
            outcome, detail = judge(target, read)
            outcomes[outcome] += 1
            done += 1
            if outcome == "refused":
                refusals[detail[len(str(target)) + 2 :].split(" (")[0].split(":")[0][:60]] += 1
            elif outcome in ("crash", "hang"):
                kept = save(mutant, outcome, save_to) if save_to is not None else None
                failures.append(
                    {
                        "kind": outcome,
                        "seed": name,
                        "mutation": what,
                        "detail": detail,
                        "saved": str(kept) if kept else None,
                    }
                )
            if progress_s and time.perf_counter() - last >= progress_s:
                last = time.perf_counter()
                print(f"fuzz: {done} inputs, {done / (last - start):.1f}/s, {dict(outcomes)}", flush=True)
    elapsed = time.perf_counter() - start
    return {
        "inputs": done,
        "seconds": round(elapsed, 1),
        "inputs_per_s": round(done / elapsed, 1),
        "seed": seed,
        "timeout_s": timeout_s,
        "outcomes": dict(outcomes),
        "crashes": sum(f["kind"] == "crash" for f in failures),
        "hangs": sum(f["kind"] == "hang" for f in failures),
        "failures": failures,
        "top_refusals": refusals.most_common(15),
    }


def make_large_seeds(folder: Path) -> list[Path]:
    """Two full-size (4096x3328) mc-synth mammograms, explicit VR and RLE, as a scanner meets them."""
    from microcalc.synth.cli import cli

    seeds = []
    for ts in ("explicit", "rle"):
        path = folder / f"large-{ts}.dcm"
        if not path.is_file():
            cli.main(["mammogram", str(path), "--seed", "4", "--transfer-syntax", ts], standalone_mode=False)
        seeds.append(path)
    return seeds


def write_batch(
    folder: Path,
    seeds: list[Path],
    *,
    count: int,
    seed: int = 0,
    large: list[Path] = (),
    large_count: int = 0,
) -> list[Path]:
    """``count`` mutants of ``seeds`` and ``large_count`` of ``large``, plus copies of all of them as
    they are (``valid-*.dcm``), in ``folder``, for one mc-scan batch."""
    folder.mkdir(parents=True, exist_ok=True)
    mutator = Mutator(seed)
    written = []
    for prefix, sources, n in (("mutant", seeds, count), ("large-mutant", large, large_count)):
        for k in range(n):
            data = sources[mutator.rng.randrange(len(sources))].read_bytes()
            written.append(folder / f"{prefix}-{k:05d}.dcm")
            written[-1].write_bytes(mutator.mutate(data)[1])
    for path in [*seeds, *large]:
        written.append(folder / f"valid-{path.name}")
        written[-1].write_bytes(path.read_bytes())
    return written


def main(argv: list[str] | None = None) -> int:
    """Command line; exits 1 when a crash or hang was found."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python tests/fuzz/fuzz.py --seconds 1800 --report fuzz.json",
    )
    parser.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    parser.add_argument("--seconds", type=float, default=None, help="stop after this long")
    parser.add_argument(
        "--seed", type=int, default=0, help="mutation seed (the same seed gives the same inputs)"
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a read counts as a hang")
    parser.add_argument("--save", type=Path, default=REGRESSIONS, help="where crashing inputs are kept")
    parser.add_argument(
        "--seeds",
        type=Path,
        default=Path(tempfile.gettempdir()) / "mc-fuzz-seeds",
        help="folder for the mc-synth seed files (made if absent)",
    )
    parser.add_argument("--report", type=Path, default=None, help="write the report as JSON here")
    parser.add_argument(
        "--batch", type=Path, default=None, help="write mutants for one mc-scan batch here instead"
    )
    parser.add_argument("--count", type=int, default=1000, help="mutants of the small seeds in --batch")
    parser.add_argument(
        "--large", type=int, default=0, help="with --batch: mutants of full-size mammograms too"
    )
    args = parser.parse_args(argv)
    seeds = make_seeds(args.seeds)
    if args.batch is not None:
        large = make_large_seeds(args.seeds) if args.large else []
        written = write_batch(
            args.batch, seeds, count=args.count, seed=args.seed, large=large, large_count=args.large
        )
        print(
            f"fuzz: wrote {len(written)} files ({args.count + args.large} mutants, "
            f"{len(seeds) + len(large)} valid) to {args.batch}"
        )
        return 0
    if args.inputs is None and args.seconds is None:
        args.inputs = 100_000
    report = fuzz(
        seeds,
        inputs=args.inputs,
        seconds=args.seconds,
        seed=args.seed,
        timeout_s=args.timeout,
        save_to=args.save,
        progress_s=30.0,
    )
    text = json.dumps(report, indent=2)
    if args.report is not None:
        args.report.write_text(text + "\n")
    print(text)
    return 1 if report["crashes"] or report["hangs"] else 0


if __name__ == "__main__":
    sys.exit(main())
