"""Coded concepts of the Mammography CAD SR (PS3.16 TID 4000-4021), in one place.

Concept names come from pydicom's DICOM (DCM) and SNOMED CT (SCT) dictionaries, so a typo in a
name fails at import instead of writing a wrong code into a report. The two small maps turn the
image header's Image Laterality (0020,0062) and View Position (0018,5101) into the codes of
CID 6022 "Side" and CID 4014 "View for Mammography".
"""

from __future__ import annotations

from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code

MAMMOGRAPHY_CAD_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.50"
SECONDARY_CAPTURE_STORAGE = "1.2.840.10008.5.1.4.1.1.7"

DCM = codes.DCM
REPORT = DCM.MammographyCADReport
IMAGE_LIBRARY = DCM.ImageLibrary
FINDINGS_SUMMARY = DCM.CADProcessingAndFindingsSummary
WITH_FINDINGS = DCM.AllAlgorithmsSucceededWithFindings
WITHOUT_FINDINGS = DCM.AllAlgorithmsSucceededWithoutFindings
# pydicom's meaning holds a zero-width space, which the default character set cannot encode.
INDIVIDUAL_IMPRESSION = Code("111034", "DCM", "Individual Impression/Recommendation")
RENDERING_INTENT = DCM.RenderingIntent
PRESENTATION_REQUIRED = DCM.PresentationRequiredRenderingDeviceIsExpectedToPresent
SINGLE_IMAGE_FINDING = DCM.SingleImageFinding
CALCIFICATION_CLUSTER = codes.SCT.CalcificationCluster
CENTER = DCM.Center
OUTLINE = DCM.Outline
CERTAINTY_OF_FINDING = DCM.CertaintyOfFinding
ALGORITHM_NAME = DCM.AlgorithmName
ALGORITHM_VERSION = DCM.AlgorithmVersion
ALGORITHM_PARAMETERS = DCM.AlgorithmParameters
SUMMARY_OF_DETECTIONS = DCM.SummaryOfDetections
SUMMARY_OF_ANALYSES = DCM.SummaryOfAnalyses
SUCCEEDED = DCM.Succeeded
NOT_ATTEMPTED = DCM.NotAttempted
SUCCESSFUL_DETECTIONS = DCM.SuccessfulDetections
DETECTION_PERFORMED = DCM.DetectionPerformed
IMAGE_LATERALITY = DCM.ImageLaterality
IMAGE_VIEW = DCM.ImageView
PATIENT_ORIENTATION_ROW = DCM.PatientOrientationRow
PATIENT_ORIENTATION_COLUMN = DCM.PatientOrientationColumn
STUDY_DATE, STUDY_TIME = DCM.StudyDate, DCM.StudyTime
CONTENT_DATE, CONTENT_TIME = DCM.ContentDate, DCM.ContentTime
HORIZONTAL_PIXEL_SPACING = DCM.HorizontalPixelSpacing
VERTICAL_PIXEL_SPACING = DCM.VerticalPixelSpacing
ENGLISH = Code("en-US", "RFC5646", "English (United States)")
PERCENT = Code("%", "UCUM", "Percent")
MILLIMETER = Code("mm", "UCUM", "millimeter")
SOURCE = Code("260753009", "SCT", "Source")  # highdicom needs a name; TID 4020 has none, removed after

# CID 6022 "Side" for Image Laterality (0020,0062).
LATERALITY = {"R": codes.SCT.Right, "L": codes.SCT.Left, "B": codes.SCT.Bilateral}

# CID 4014 "View for Mammography" for the View Position (0018,5101) defined terms of the MG IODs.
VIEW = {
    "CC": codes.SCT.CranioCaudal,
    "MLO": Code("399368009", "SCT", "medio-lateral oblique"),
    "ML": Code("399260004", "SCT", "medio-lateral"),
    "LM": codes.SCT.LateroMedial,
    "LMO": codes.SCT.LateroMedialOblique,
    "XCCL": codes.SCT.CranioCaudalExaggeratedLaterally,
    "XCCM": codes.SCT.CranioCaudalExaggeratedMedially,
    "FB": codes.SCT.CaudoCranial,
    "SIO": codes.SCT.SuperolateralToInferomedialOblique,
    "AT": codes.SCT.AxillaryTail,
    "CV": codes.SCT.Cleavage,
}
