"""The overview as DICOM: a Secondary Capture image for viewers that do not render SR.

The PNG overview of a scan (:mod:`microcalc.engine.render`: the downsampled mammogram, each finding
outlined with its rank and score, laterality/view and operating point in a corner) becomes an
RGB Secondary Capture Image (SOP Class 1.2.840.10008.5.1.4.1.1.7) built by highdicom from the
source header: patient and study from the source, its own series and instance (derived like the
SR's, so a rescan gives the same instance), the source's patient orientation and laterality.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from microcalc import __version__
from microcalc.report_sr.content import SRSubject
from microcalc.report_sr.document import derived_uids, evidence, header_errors, highdicom


def build_overview_sc(source: Dataset, png: str | Path, subject: SRSubject, *, path: str) -> Dataset:
    """The Secondary Capture of the overview ``png`` of a scan (``subject``) for the image ``source``."""
    hd = highdicom()
    with Image.open(png) as img:
        pixels = np.ascontiguousarray(np.asarray(img.convert("RGB")))
    with header_errors(path, "overview"):
        ref = evidence(source, path)
        series_uid, sop_uid = derived_uids(source, subject, kind="overview")
        laterality = str(source.get("ImageLaterality", "") or source.get("Laterality", "") or "").upper()
        image = hd.sc.SCImage.from_ref_dataset(
            ref_dataset=ref,
            pixel_array=pixels,
            photometric_interpretation="RGB",
            bits_allocated=8,
            coordinate_system="PATIENT",
            series_instance_uid=series_uid,
            series_number=9002,
            sop_instance_uid=sop_uid,
            instance_number=1,
            manufacturer="microcalc",
            patient_orientation=("A", "R"),
            laterality=laterality if laterality in ("L", "R") else None,
            transfer_syntax_uid=ExplicitVRLittleEndian,
            software_versions=__version__,
            series_description="microcalc CAD overview",
        )
        # highdicom takes single-letter directions only; mammograms use pairs such as "FL" (PS3.3
        # C.7.6.1.1.1):
        # the overview keeps the source's orientation as it is (not flipped), or none when the source has
        # none.
        image.PatientOrientation = list(source.get("PatientOrientation", []) or [])
        image.BurnedInAnnotation = "NO"  # marks, scores, view and operating point: nothing that identifies
    return image
