"""A Mammography CAD SR document (SOP Class 1.2.840.10008.5.1.4.1.1.88.50) for one scanned image.

The document is highdicom's public ``ComprehensiveSR`` given this SOP class: patient and study modules come
from the source image so that the PACS files the SR with its study; the SR gets its own series
and SOP instance; nothing else of the source is copied. Its UIDs are derived from the source SOP
Instance UID, the model's SHA-256 and the operating point, so scanning the same image with the
same model again (a restarted server, a re-sent image) yields the same SR instance, which a
PACS stores once, instead of a second report. The operating point enters the UIDs as
:func:`operating_point_words` words it.

highdicom is imported on first use: without it, one line names ``pip install "microcalc[dicom]"``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import generate_uid

from microcalc import __version__
from microcalc.atomic import write_atomic
from microcalc.errors import InputError, import_optional
from microcalc.report_sr import codes as c
from microcalc.report_sr.content import LIBRARY_IMAGE_ID, Algorithm, SRSubject, cad_report_content

ALGORITHM_NAME = "microcalc microcalcification cluster detection"
# Type 2 attributes of the Patient and General Study modules: empty when the source lacks them.
_TYPE2 = (
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyDate",
    "StudyTime",
    "ReferringPhysicianName",
    "StudyID",
    "AccessionNumber",
)
_CONTENT_SEQUENCE = 0x0040A730


def highdicom() -> Any:
    """The highdicom module, or a one-line error naming the extra."""
    return import_optional("highdicom", extra="dicom", purpose="the Mammography CAD SR")


def operating_point_words(point: Mapping[str, Any] | None) -> str:
    """An operating point in one line: its name and what it was chosen for, or that there was none."""
    if not point or not point.get("name"):
        return "operating point none (fixed threshold)"
    detail = (
        f" ({point['level']} level: {point['criterion']})"
        if point.get("level") and point.get("criterion")
        else ""
    )
    return f"operating point {point['name']}{detail}"


def algorithm_identification(
    *, model_sha256: str, operating_point: str, threshold: float, model: str | None
) -> Algorithm:
    """TID 4019 identification: microcalc's version, the model's SHA-256, the operating point (in words),
    the threshold and, when known, the model (``arch variant on backend precision``)."""
    params = [f"model sha256 {model_sha256}", operating_point, f"threshold {threshold}"]
    if model:
        params.append(f"model {model}")
    return Algorithm(name=ALGORITHM_NAME, version=__version__, parameters=tuple(params))


@contextmanager
def header_errors(path: str, what: str) -> Iterator[None]:
    """A header value highdicom or pydicom refuses (they raise ValueError) is the input's fault: one line.

    Other exceptions are bugs in microcalc and propagate as such.
    """
    try:
        yield
    except ValueError as exc:
        raise InputError(
            f"{path}: cannot build the {what} from its header ({type(exc).__name__}: {exc})"
        ) from exc


def derived_uids(source: Dataset, subject: SRSubject, *, kind: str) -> tuple[str, str]:
    """(Series Instance UID, SOP Instance UID) of a result object of ``kind`` (the SR, the overview):
    new, and the same for the same image, model and operating point."""
    key = [kind, str(subject.model_sha256), subject.operating_point]
    series = generate_uid(entropy_srcs=["microcalc-series", str(source.StudyInstanceUID), *key])
    sop = generate_uid(entropy_srcs=["microcalc-instance", str(source.SOPInstanceUID), *key])
    return series, sop


def evidence(source: Dataset, path: str) -> Dataset:
    """A copy of the source header that can lend its patient and study (empty Type 2 attributes added)."""
    for keyword in ("SOPClassUID", "SOPInstanceUID", "StudyInstanceUID"):
        if not source.get(keyword):
            raise InputError(f"{path}: cannot file results with the image's study: it has no {keyword}")
    copy = deepcopy(source)
    for keyword in _TYPE2:
        if keyword not in copy:
            setattr(copy, keyword, "")
    return copy


def _walk(items: Any):
    for item in items:
        yield item
        if _CONTENT_SEQUENCE in item:
            yield from _walk(item[_CONTENT_SEQUENCE].value)


def _add_library_references(document: Dataset) -> None:
    """By-reference links to the Image Library entry: SCOORD SELECTED FROM it, detection INFERRED FROM it."""
    names = {
        c.CENTER.value: "SELECTED FROM",
        c.OUTLINE.value: "SELECTED FROM",
        c.DETECTION_PERFORMED.value: "INFERRED FROM",
    }
    for item in _walk(document.ContentSequence):
        relation = (
            names.get(item.ConceptNameCodeSequence[0].CodeValue)
            if "ConceptNameCodeSequence" in item
            else None
        )
        if relation is None:
            continue
        ref = Dataset()
        ref.RelationshipType = relation
        ref.ReferencedContentItemIdentifier = list(LIBRARY_IMAGE_ID)
        children = list(item[_CONTENT_SEQUENCE].value) if _CONTENT_SEQUENCE in item else []
        item.add_new(_CONTENT_SEQUENCE, "SQ", Sequence([*children, ref]))
    library_image = document.ContentSequence[LIBRARY_IMAGE_ID[1] - 1].ContentSequence[LIBRARY_IMAGE_ID[2] - 1]
    del library_image.ConceptNameCodeSequence  # TID 4020 row 1 has no concept name


def build_cad_sr(source: Dataset, subject: SRSubject, *, path: str) -> Dataset:
    """The Mammography CAD SR of one scan.

    Args:
        source: the scanned image's header (``dcmread(..., stop_before_pixels=True)``).
        subject: its scan (:meth:`microcalc.engine.report.ScanReport.sr_subject`); SCOORDs come
            from its findings' centres and boxes, in the source's pixel grid.
        path: the input's name for error messages.
    """
    hd = highdicom()
    with header_errors(path, "CAD SR"):
        source_copy = evidence(source, path)
        if subject.sop_instance_uid not in (None, str(source.SOPInstanceUID)):
            raise InputError(
                f"{path}: the scan report is for SOP Instance {subject.sop_instance_uid}, "
                f"not {source.SOPInstanceUID}"
            )
        series_uid, sop_uid = derived_uids(source, subject, kind="cad-sr")
        content = cad_report_content(hd, source, list(subject.findings), subject.algorithm)
        document = hd.sr.ComprehensiveSR(
            evidence=[source_copy],
            content=content,
            series_instance_uid=series_uid,
            series_number=9001,
            sop_instance_uid=sop_uid,
            instance_number=1,
            manufacturer="microcalc",
            is_complete=True,
            software_versions=__version__,
            series_description="microcalc CAD",
        )
        _add_library_references(document)
        # highdicom has no Mammography CAD SR class; its public Comprehensive SR builds the same
        # SR Document modules, and this IOD differs only in its SOP Class (PS3.3 A.35.5)
        document.SOPClassUID = document.file_meta.MediaStorageSOPClassUID = c.MAMMOGRAPHY_CAD_SR_STORAGE
    return document


def write_sr(document: Dataset, path: str | Path) -> Path:
    """Write ``document`` as a DICOM file, atomically (a failure leaves no file)."""
    path = Path(path)
    write_atomic(path, lambda f: document.save_as(f, enforce_file_format=True))
    return path


def write_scan_sr(image: str | Path, subject: SRSubject, out: str | Path, *, header: Dataset | None) -> Path:
    """Build the CAD SR of ``image``'s scan (``subject``) from its ``header`` and write it to ``out``.

    ``header`` is what the reader parsed (:attr:`~microcalc.imaging.types.Mammogram.header`, in the
    isolated decoder process): the file is not opened again here.

    Raises:
        InputError: ``image`` is not DICOM (a PNG has no study to file an SR under) or lacks UIDs.
    """
    if header is None:
        raise InputError(f"{image}: a CAD SR needs a DICOM image (this input has no DICOM header)")
    return write_sr(build_cad_sr(header, subject, path=str(image)), out)
