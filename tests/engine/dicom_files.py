"""Small DICOM files for engine tests, written with pydicom (no patient identity beyond a test name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, JPEGLSLossless, generate_uid

DIGITAL_MG = "1.2.840.10008.5.1.4.1.1.1.2"
CT_IMAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_dicom(
    path: Path,
    pixels: np.ndarray | None,
    *,
    modality: str = "MG",
    rows: int | None = None,
    cols: int | None = None,
    syntax: str = ExplicitVRLittleEndian,
) -> Path:
    """A 16-bit MONOCHROME2 image; ``pixels=None`` leaves out Pixel Data; rows/cols override the header."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = DIGITAL_MG if modality == "MG" else CT_IMAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.Modality = modality
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "Doe^Jane", "PID-4242", "19600101"
    ds.ImageLaterality, ds.ViewPosition = "R", "MLO"
    ds.ImagerPixelSpacing = [0.1, 0.1]
    shape = pixels.shape if pixels is not None else (64, 64)
    ds.Rows, ds.Columns = rows or shape[0], cols or shape[1]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    if pixels is not None:
        data = (pixels.astype(np.uint16) * 16).tobytes()
        if syntax == JPEGLSLossless:  # encapsulated junk: the decoder check comes before decoding
            from pydicom.encaps import encapsulate

            data = encapsulate([b"\xff\xd8junk\xff\xd9"])
        ds.PixelData = data
    ds.save_as(path, enforce_file_format=True)
    return path
