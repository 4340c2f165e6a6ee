"""Write a synthetic image as a DM "For Presentation" DICOM, the way a real detector would.

The header carries what readers rely on: SOP Class Digital Mammography X-Ray Image Storage -
For Presentation (or For Processing, see below), Modality MG, pixel module (16 bits allocated,
``bits_stored`` stored,
unsigned), Pixel Spacing and Imager Pixel Spacing, Window Center/Width with VOI LUT Function,
Image Laterality, View Position, Presentation Intent Type, and UIDs derived from the seed.
Patient Name/ID are obviously synthetic.

``intent="processing"`` writes the same pixels as a "For Processing" image (SOP Class
Digital Mammography X-Ray Image Storage - For Processing, Presentation Intent Type FOR
PROCESSING, no VOI LUT module as PS3.3 A.27.2 requires). Its pixels are NOT a model of raw
detector data: the file exists so that readers can be tested on refusing such images. RLE and JPEG 2000
lossless go through pydicom's
``Dataset.compress`` (pylibjpeg encoders), so they decode back to the same pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    RLELossless,
    generate_uid,
)

from microcalc.atomic import atomic_path

DM_FOR_PRESENTATION = UID("1.2.840.10008.5.1.4.1.1.1.2")
DM_FOR_PROCESSING = UID("1.2.840.10008.5.1.4.1.1.1.2.1")
# --intent value -> (SOP Class UID, Presentation Intent Type (0008,0068)).
INTENTS = {
    "presentation": (DM_FOR_PRESENTATION, "FOR PRESENTATION"),
    "processing": (DM_FOR_PROCESSING, "FOR PROCESSING"),
}
TRANSFER_SYNTAXES = {"explicit": ExplicitVRLittleEndian, "rle": RLELossless, "jpeg2000": JPEG2000Lossless}
PHOTOMETRICS = ("MONOCHROME2", "MONOCHROME1")
VOI_FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
SYNTHETIC_PATIENT_NAME = "SYNTHETIC^PHANTOM"
SYNTHETIC_PATIENT_ID = "MICROCALC-SYNTH"
# DICOM Patient Orientation (row direction, column direction) per laterality and view.
_ORIENTATION = {
    ("L", "CC"): ["A", "R"],
    ("L", "MLO"): ["A", "FR"],
    ("R", "CC"): ["P", "L"],
    ("R", "MLO"): ["P", "FL"],
}


def _uid(seed: int, what: str) -> UID:
    return generate_uid(entropy_srcs=[f"microcalc-synth:{seed}:{what}"])


def build_header(
    *,
    rows: int,
    cols: int,
    seed: int,
    spacing_mm: float,
    view: str,
    laterality: str,
    bits_stored: int,
    window: tuple[float, float],
    photometric: str = "MONOCHROME2",
    voi_function: str = "LINEAR",
    transfer_syntax: str = "explicit",
    intent: str = "presentation",
) -> Dataset:
    """The full header (no Pixel Data) for MONOCHROME2 ``window=(center, width)``.

    For MONOCHROME1 the stored values are inverted (``2**bits - 1 - v``) by the writer and the
    window center moves to ``2**bits - center`` so that the displayed image is identical.
    """
    if photometric not in PHOTOMETRICS:
        raise ValueError(
            f"unknown photometric interpretation {photometric!r}; expected {', '.join(PHOTOMETRICS)}"
        )
    if voi_function not in VOI_FUNCTIONS:
        raise ValueError(f"unknown VOI LUT function {voi_function!r}; expected {', '.join(VOI_FUNCTIONS)}")
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(
            f"unknown transfer syntax {transfer_syntax!r}; expected {', '.join(TRANSFER_SYNTAXES)}"
        )
    if intent not in INTENTS:
        raise ValueError(f"unknown presentation intent {intent!r}; expected {', '.join(INTENTS)}")
    sop_class, intent_type = INTENTS[intent]
    sop_uid = _uid(seed, f"sop:{view}:{laterality}")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(seed, "study"), _uid(seed, f"series:{view}:{laterality}")
    ds.FrameOfReferenceUID = _uid(seed, "frame")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
    ds.AccessionNumber, ds.StudyID, ds.SeriesNumber, ds.InstanceNumber = "", "1", 1, 1
    ds.PatientName, ds.PatientID = SYNTHETIC_PATIENT_NAME, f"{SYNTHETIC_PATIENT_ID}-{seed}"
    ds.PatientBirthDate, ds.PatientSex = "", "F"
    ds.Modality, ds.Manufacturer = "MG", "microcalc synthetic phantom"
    ds.ConversionType = "SYN"
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.PresentationIntentType = intent_type
    ds.BodyPartExamined, ds.ImageLaterality, ds.Laterality = "BREAST", laterality, laterality
    ds.ViewPosition = view
    ds.PatientOrientation = _ORIENTATION[(laterality, view)]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, photometric
    ds.Rows, ds.Columns = rows, cols
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, bits_stored, bits_stored - 1, 0
    ds.PixelSpacing = ds.ImagerPixelSpacing = [f"{spacing_mm:g}", f"{spacing_mm:g}"]
    ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "US"
    center, width = window
    if photometric == "MONOCHROME1":
        center = float(2**bits_stored) - center
    if intent == "presentation":
        ds.WindowCenter, ds.WindowWidth = f"{center:g}", f"{width:g}"
        ds.VOILUTFunction = voi_function
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    return ds


def stored_for(pixels: np.ndarray, *, bits_stored: int, photometric: str) -> np.ndarray:
    """MONOCHROME2 stored values -> the values written for ``photometric`` (inverted for MONOCHROME1)."""
    if photometric == "MONOCHROME1":
        return (np.uint16(2**bits_stored - 1) - pixels).astype(np.uint16)
    return pixels


def write_mammogram_dicom(
    path: str | Path,
    pixels: np.ndarray,
    *,
    seed: int,
    spacing_mm: float,
    view: str,
    laterality: str,
    bits_stored: int,
    window: tuple[float, float],
    photometric: str = "MONOCHROME2",
    voi_function: str = "LINEAR",
    transfer_syntax: str = "explicit",
    intent: str = "presentation",
) -> Path:
    """Write MONOCHROME2 stored ``pixels`` (uint16 ``[rows, cols]``) as an MG DICOM, atomically."""
    path = Path(path)
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise ValueError(f"pixels must be a 2-D uint16 array, got {pixels.dtype} {pixels.shape}")
    ds = build_header(
        rows=pixels.shape[0],
        cols=pixels.shape[1],
        seed=seed,
        spacing_mm=spacing_mm,
        view=view,
        laterality=laterality,
        bits_stored=bits_stored,
        window=window,
        photometric=photometric,
        voi_function=voi_function,
        transfer_syntax=transfer_syntax,
        intent=intent,
    )
    data = np.ascontiguousarray(stored_for(pixels, bits_stored=bits_stored, photometric=photometric))
    ds.PixelData = data.tobytes()
    syntax = TRANSFER_SYNTAXES[transfer_syntax]
    if syntax.is_compressed:
        ds.compress(syntax, data, encoding_plugin="pylibjpeg")
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
