"""The negative pool of hard negative mining: patches, and tiles of whole normal mammograms.

Negatives outnumber positives by orders of magnitude in screening (Mordang et al. 2016): a
normal mammogram is hundreds of breast tiles, and the ones a model flags there are the false
findings a reader would see. A pool may therefore hold whole mammograms (DICOM, both sides at
least twice the patch size): each is cut into the tiles the scanner itself would score (the
engine's breast mask and tile grid, the scanner's default overlap and tissue fraction), written
once as PNG patches into a cache folder, and mined like any other negative patch.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from microcalc.engine.settings import ScanSettings
from microcalc.errors import InputError, MicrocalcError
from microcalc.imaging.patches import DICOM_SUFFIXES, looks_dicom

SCAN = ScanSettings(threshold=0.5)  # mc-scan's default tiling (the threshold plays no part here)


def is_whole_mammogram(path: Path, *, patch_size: int) -> bool:
    """A DICOM image whose both sides are at least twice the patch size (read from the header only)."""
    if path.suffix.lower() not in DICOM_SUFFIXES and not (path.suffix == "" and looks_dicom(path)):
        return False
    import pydicom

    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        rows, cols = int(ds.Rows), int(ds.Columns)
    except (OSError, ValueError, AttributeError, TypeError, pydicom.errors.InvalidDicomError) as exc:
        raise InputError(f"{path}: unreadable DICOM in the negative pool ({exc})") from exc
    return min(rows, cols) >= 2 * patch_size


def cut_tiles(path: Path, cache: Path, *, patch_size: int) -> list[Path]:
    """Write the breast tiles of one mammogram as ``cache/<stem>/<stem>_y<Y>_x<X>.png``; returns them.

    Tiles cut earlier are reused (the folder is complete once its ``.done`` marker exists).
    """
    from microcalc.engine.mask import breast_mask
    from microcalc.engine.tiler import plan_tiles
    from microcalc.imaging import read_mammogram

    folder = cache / path.stem
    if (folder / ".done").is_file():
        return sorted(folder.glob("*.png"))
    try:
        pixels = read_mammogram(path, force=True, min_side=patch_size).pixels
    except MicrocalcError as exc:
        raise InputError(f"{path}: cannot read the negative pool mammogram ({exc})") from exc
    grid = plan_tiles(breast_mask(pixels), size=patch_size, overlap=SCAN.overlap, min_breast=SCAN.min_breast)
    folder.mkdir(parents=True, exist_ok=True)
    tiles = []
    for y, x in zip(grid.ys.tolist(), grid.xs.tolist()):
        tile = folder / f"{path.stem}_y{y:05d}_x{x:05d}.png"
        Image.fromarray(pixels[y : y + patch_size, x : x + patch_size], mode="L").save(tile, format="PNG")
        tiles.append(tile)
    (folder / ".done").touch()
    return tiles


def expand_pool(files: list[Path], cache: Path, *, patch_size: int) -> tuple[list[Path], int]:
    """Patch files as they are, whole mammograms replaced by their tiles; returns (patches, mammograms)."""
    out: list[Path] = []
    mammograms = 0
    for f in files:
        if is_whole_mammogram(f, patch_size=patch_size):
            out += cut_tiles(f, cache, patch_size=patch_size)
            mammograms += 1
        else:
            out.append(f)
    return out, mammograms
