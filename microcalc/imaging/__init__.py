"""Reading mammograms into the model's 8-bit domain (numpy + pydicom only; no torch, no onnx).

``read_mammogram`` is the one entry point for DICOM/PNG/TIFF; ``to_uint8`` is the one mapping to
8 bits, shared by ``mc-synth patches`` and the scanner. See :mod:`microcalc.imaging.transforms`
for the PS3.3 transforms and their order.
"""

from microcalc.imaging.reader import MAMMOGRAPHY_SOP_CLASSES, is_mammogram, read_mammogram
from microcalc.imaging.transforms import present, to_uint8
from microcalc.imaging.types import ImageMeta, Mammogram

__all__ = [
    "MAMMOGRAPHY_SOP_CLASSES",
    "ImageMeta",
    "Mammogram",
    "is_mammogram",
    "present",
    "read_mammogram",
    "to_uint8",
]
