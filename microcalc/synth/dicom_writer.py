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

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


# DicomSpec fields that a phantom's truth carries only once the image is written with them
_RECORDED = ("photometric", "voi_function", "transfer_syntax", "intent")


@dataclass(frozen=True)
class DicomSpec:
    """What an image's header says besides its size, validated in one place.

    ``window=(center, width)`` is the MONOCHROME2 window; ``seed`` derives the UIDs and Patient ID.
    :func:`build_header` and :func:`write_mammogram_dicom` take one, so a header field is named once.
    """

    seed: int
    spacing_mm: float
    view: str
    laterality: str
    bits_stored: int
    window: tuple[float, float]
    photometric: str = "MONOCHROME2"
    voi_function: str = "LINEAR"
    transfer_syntax: str = "explicit"
    intent: str = "presentation"

    def __post_init__(self) -> None:
        for what, value, allowed in (
            ("photometric interpretation", self.photometric, PHOTOMETRICS),
            ("VOI LUT function", self.voi_function, VOI_FUNCTIONS),
            ("transfer syntax", self.transfer_syntax, tuple(TRANSFER_SYNTAXES)),
            ("presentation intent", self.intent, tuple(INTENTS)),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {what} {value!r}; expected {', '.join(allowed)}")

    @classmethod
    def from_truth(cls, truth: Mapping[str, Any], **fields: Any) -> DicomSpec:
        """The header of the image a phantom's ``truth`` describes: seed, spacing, view, laterality,
        bits stored and window, and photometric, VOI LUT function, transfer syntax and intent where the
        truth records them (the truth file beside a written image does); ``fields`` override."""
        window = truth["window"]
        described = {
            "seed": truth["seed"],
            "spacing_mm": truth["pixel_spacing_mm"],
            "view": truth["view"],
            "laterality": truth["laterality"],
            "bits_stored": truth["bits_stored"],
            "window": (window["center"], window["width"]),
        }
        recorded = {name: truth[name] for name in _RECORDED if name in truth}
        return cls(**{**described, **recorded, **fields})


def build_header(spec: DicomSpec, *, rows: int, cols: int) -> Dataset:
    """The full header (no Pixel Data) of a ``rows x cols`` image as ``spec`` describes it.

    For MONOCHROME1 the stored values are inverted (``2**bits - 1 - v``) by the writer and the
    window center moves to ``2**bits - center`` so that the displayed image is identical.
    """
    seed, view, laterality, bits_stored = spec.seed, spec.view, spec.laterality, spec.bits_stored
    photometric, spacing_mm = spec.photometric, spec.spacing_mm
    sop_class, intent_type = INTENTS[spec.intent]
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
    center, width = spec.window
    if photometric == "MONOCHROME1":
        center = float(2**bits_stored) - center
    if spec.intent == "presentation":
        ds.WindowCenter, ds.WindowWidth = f"{center:g}", f"{width:g}"
        ds.VOILUTFunction = spec.voi_function
    ds.PresentationLUTShape = "IDENTITY" if photometric == "MONOCHROME2" else "INVERSE"
    ds.BurnedInAnnotation = "NO"
    ds.LossyImageCompression = "00"
    return ds


def stored_for(pixels: np.ndarray, *, bits_stored: int, photometric: str) -> np.ndarray:
    """MONOCHROME2 stored values -> the values written for ``photometric`` (inverted for MONOCHROME1)."""
    if photometric == "MONOCHROME1":
        return (np.uint16(2**bits_stored - 1) - pixels).astype(np.uint16)
    return pixels


def write_mammogram_dicom(path: str | Path, pixels: np.ndarray, spec: DicomSpec) -> Path:
    """Write MONOCHROME2 stored ``pixels`` (uint16 ``[rows, cols]``) as an MG DICOM, atomically."""
    path = Path(path)
    if pixels.dtype != np.uint16 or pixels.ndim != 2:
        raise ValueError(f"pixels must be a 2-D uint16 array, got {pixels.dtype} {pixels.shape}")
    ds = build_header(spec, rows=pixels.shape[0], cols=pixels.shape[1])
    data = np.ascontiguousarray(
        stored_for(pixels, bits_stored=spec.bits_stored, photometric=spec.photometric)
    )
    ds.PixelData = data.tobytes()
    syntax = TRANSFER_SYNTAXES[spec.transfer_syntax]
    if syntax.is_compressed:
        ds.compress(syntax, data, encoding_plugin="pylibjpeg")
    with atomic_path(path) as tmp:
        ds.save_as(tmp, enforce_file_format=True)
    return path
