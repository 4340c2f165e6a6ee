"""The content tree of a Mammography CAD SR (PS3.16 TID 4000), built from highdicom content items.

highdicom has no TID 4000 class, so the tree is assembled here from its generic content items::

    CONTAINER (111036 Mammography CAD Report)                          TID 4000
      HAS CONCEPT MOD  Language of Content Item and Descendants       TID 1204
      CONTAINS CONTAINER (111028 Image Library)
        CONTAINS IMAGE  the scanned image                              TID 4020
          HAS ACQ CONTEXT laterality, view, orientation, dates, pixel spacing (those in its header)
      CONTAINS CODE (111017 CAD Processing and Findings Summary)       TID 4001
        INFERRED FROM CONTAINER (111034 Individual Impression/Recommendation), one per finding  TID 4003
          HAS CONCEPT MOD Rendering Intent = Presentation Required
          CONTAINS CODE (111059 Single Image Finding) = Calcification Cluster                  TID 4006
            HAS CONCEPT MOD Rendering Intent; Algorithm Name, Version, Parameters                TID 4019
            HAS PROPERTIES NUM Certainty of Finding (%); SCOORD Center POINT and Outline POLYLINE TID 4021
      CONTAINS CODE (111064 Summary of Detections) = Succeeded
        INFERRED FROM CONTAINER (111063 Successful Detections)        TID 4015
          CONTAINS CODE (111022 Detection Performed) = Calcification Cluster, with the algorithm  TID 4017
      CONTAINS CODE (111065 Summary of Analyses) = Not Attempted

Every SCOORD (and the detection's INFERRED FROM) must be *selected from* the Image Library entry
by reference; highdicom content items cannot hold a by-reference child, so those references are
added to the finished document by :func:`microcalc.report_sr.document.build_cad_sr`
(:data:`LIBRARY_IMAGE_ID` is the entry's content item identifier). SCOORD values are (column, row)
in the original pixel grid of the scanned image, as the scan report's ``*_px`` fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pydicom.dataset import Dataset

from microcalc.report_sr import codes as c

# Content item identifier of the one Image Library entry: root 1 > Image Library (its 2nd child) > 1st entry.
LIBRARY_IMAGE_ID = (1, 2, 1)


@dataclass(frozen=True)
class Algorithm:
    """TID 4019 Algorithm Identification: what produced the findings and how it was set."""

    name: str
    version: str
    parameters: tuple[str, ...] = ()


@dataclass(frozen=True)
class SRFinding:
    """One finding as the SR needs it: centre and box in original pixels (x = column), score in [0, 1]."""

    centre: tuple[float, float]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 (end-exclusive)
    score: float


@dataclass(frozen=True)
class SRSubject:
    """What the SR and the overview SC need of one scan, typed (the caller converts its report into it).

    ``operating_point`` is the point in words (:func:`~microcalc.report_sr.document.operating_point_words`):
    with the model's SHA-256 it enters the derived UIDs. ``findings`` are highest score first.
    """

    sop_instance_uid: str | None
    model_sha256: str
    operating_point: str
    findings: tuple[SRFinding, ...]
    algorithm: Algorithm


def _sr(hd: Any) -> Any:
    return hd.sr


def _algorithm_items(hd: Any, algorithm: Algorithm, relationship: str) -> list[Any]:
    sr = _sr(hd)
    items = [
        sr.TextContentItem(name=c.ALGORITHM_NAME, value=algorithm.name, relationship_type=relationship),
        sr.TextContentItem(name=c.ALGORITHM_VERSION, value=algorithm.version, relationship_type=relationship),
    ]
    items += [
        sr.TextContentItem(name=c.ALGORITHM_PARAMETERS, value=p, relationship_type=relationship)
        for p in algorithm.parameters
    ]
    return items


def _library_entry(hd: Any, source: Dataset) -> Any:
    """TID 4020: the scanned image with the acquisition context its header holds (MC rows: if present)."""
    sr = _sr(hd)
    ctx = "HAS ACQ CONTEXT"
    image = sr.ImageContentItem(
        name=c.SOURCE,
        referenced_sop_class_uid=source.SOPClassUID,
        referenced_sop_instance_uid=source.SOPInstanceUID,
        relationship_type="CONTAINS",
    )
    items = []
    laterality = str(source.get("ImageLaterality", "") or source.get("Laterality", "") or "").upper()
    if laterality in c.LATERALITY:
        items.append(
            sr.CodeContentItem(name=c.IMAGE_LATERALITY, value=c.LATERALITY[laterality], relationship_type=ctx)
        )
    view = str(source.get("ViewPosition", "") or "").upper()
    if view in c.VIEW:
        items.append(sr.CodeContentItem(name=c.IMAGE_VIEW, value=c.VIEW[view], relationship_type=ctx))
    orientation = list(source.get("PatientOrientation", []) or [])
    if len(orientation) == 2:
        items += [
            sr.TextContentItem(
                name=c.PATIENT_ORIENTATION_ROW, value=str(orientation[0]), relationship_type=ctx
            ),
            sr.TextContentItem(
                name=c.PATIENT_ORIENTATION_COLUMN, value=str(orientation[1]), relationship_type=ctx
            ),
        ]
    for keyword, name, kind in (
        ("StudyDate", c.STUDY_DATE, "date"),
        ("StudyTime", c.STUDY_TIME, "time"),
        ("ContentDate", c.CONTENT_DATE, "date"),
        ("ContentTime", c.CONTENT_TIME, "time"),
    ):
        value = source.get(keyword)
        if value:
            cls = sr.DateContentItem if kind == "date" else sr.TimeContentItem
            items.append(cls(name=name, value=value, relationship_type=ctx))
    spacing = source.get("ImagerPixelSpacing") or source.get("PixelSpacing")
    if spacing is not None and len(spacing) == 2:
        row_mm, col_mm = (float(v) for v in spacing)
        items += [
            sr.NumContentItem(
                name=c.HORIZONTAL_PIXEL_SPACING, value=col_mm, unit=c.MILLIMETER, relationship_type=ctx
            ),
            sr.NumContentItem(
                name=c.VERTICAL_PIXEL_SPACING, value=row_mm, unit=c.MILLIMETER, relationship_type=ctx
            ),
        ]
    if items:
        image.ContentSequence = items
    return image


def _finding(hd: Any, finding: SRFinding, algorithm: Algorithm) -> Any:
    """TID 4003 holding one TID 4006 Single Image Finding with its TID 4021 geometry."""
    sr = _sr(hd)
    x0, y0, x1, y1 = finding.box
    outline = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]], dtype=np.float32)
    single = sr.CodeContentItem(
        name=c.SINGLE_IMAGE_FINDING, value=c.CALCIFICATION_CLUSTER, relationship_type="CONTAINS"
    )
    single.ContentSequence = [
        sr.CodeContentItem(
            name=c.RENDERING_INTENT, value=c.PRESENTATION_REQUIRED, relationship_type="HAS CONCEPT MOD"
        ),
        *_algorithm_items(hd, algorithm, "HAS CONCEPT MOD"),
        sr.NumContentItem(
            name=c.CERTAINTY_OF_FINDING,
            value=round(100.0 * float(finding.score), 2),
            unit=c.PERCENT,
            relationship_type="HAS PROPERTIES",
        ),
        sr.ScoordContentItem(
            name=c.CENTER,
            graphic_type="POINT",
            graphic_data=np.array([finding.centre], np.float32),
            relationship_type="HAS PROPERTIES",
        ),
        sr.ScoordContentItem(
            name=c.OUTLINE, graphic_type="POLYLINE", graphic_data=outline, relationship_type="HAS PROPERTIES"
        ),
    ]
    impression = sr.ContainerContentItem(name=c.INDIVIDUAL_IMPRESSION, relationship_type="INFERRED FROM")
    impression.ContentSequence = [
        sr.CodeContentItem(
            name=c.RENDERING_INTENT, value=c.PRESENTATION_REQUIRED, relationship_type="HAS CONCEPT MOD"
        ),
        single,
    ]
    return impression


def cad_report_content(hd: Any, source: Dataset, findings: list[SRFinding], algorithm: Algorithm) -> Any:
    """The root CONTAINER of a TID 4000 Mammography CAD Report for one scanned image."""
    sr = _sr(hd)
    library = sr.ContainerContentItem(name=c.IMAGE_LIBRARY, relationship_type="CONTAINS")
    library.ContentSequence = [_library_entry(hd, source)]
    summary = sr.CodeContentItem(
        name=c.FINDINGS_SUMMARY,
        value=c.WITH_FINDINGS if findings else c.WITHOUT_FINDINGS,
        relationship_type="CONTAINS",
    )
    if findings:
        summary.ContentSequence = [_finding(hd, f, algorithm) for f in findings]
    performed = sr.CodeContentItem(
        name=c.DETECTION_PERFORMED, value=c.CALCIFICATION_CLUSTER, relationship_type="CONTAINS"
    )
    performed.ContentSequence = _algorithm_items(hd, algorithm, "HAS CONCEPT MOD")
    successful = sr.ContainerContentItem(name=c.SUCCESSFUL_DETECTIONS, relationship_type="INFERRED FROM")
    successful.ContentSequence = [performed]
    detections = sr.CodeContentItem(
        name=c.SUMMARY_OF_DETECTIONS, value=c.SUCCEEDED, relationship_type="CONTAINS"
    )
    detections.ContentSequence = [successful]
    analyses = sr.CodeContentItem(
        name=c.SUMMARY_OF_ANALYSES, value=c.NOT_ATTEMPTED, relationship_type="CONTAINS"
    )
    root = sr.ContainerContentItem(name=c.REPORT, template_id="4000")
    root.ContentSequence = [
        *hd.sr.LanguageOfContentItemAndDescendants(hd.sr.CodedConcept.from_code(c.ENGLISH)),
        library,
        summary,
        detections,
        analyses,
    ]
    return root
