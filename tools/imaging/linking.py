"""Link loaded images to the record: `ImageSeries` ↔ `ImagingStudy` ↔ radiology `DiagnosticReport`.

Matching, most specific first:

1. ``series_uid``: the series' SeriesInstanceUID is one of the study's ``series[].uid``;
2. ``study_uid``: the series' StudyInstanceUID is the study's identifier (``urn:oid:<uid>`` or
   system ``urn:dicom:uid``; the FHIR facts keep it as ``details.study_uid``);
3. ``case_map``: the case YAML names the study for the image path (``images[].study``), for
   images without DICOM UIDs (NRRD, PNG) or with anonymised ones.

Reports link to a study when the `DiagnosticReport.imagingStudy` cites it (the report fact's
``related`` list), so the reader can cite a report's conclusion for the series it read.
Works on the `Fact`s of a `PatientRecord` (kinds ``imaging_study`` and ``report``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from medboard.models import Fact, FactKind
from medboard.models.fact_kinds import ImagingStudyDetails
from medboard.tools.imaging.series import ImageSeries

MatchKind = Literal["series_uid", "study_uid", "case_map"]


@dataclass(frozen=True)
class StudyLink:
    series_id: str
    study: str  # "ImagingStudy/<id>"
    matched_by: MatchKind
    reports: tuple[str, ...] = ()


def _uid(value: object) -> str | None:
    text = str(value).strip() if value else ""
    return text.removeprefix("urn:oid:") or None


def study_series_uids(fact: Fact) -> set[str]:
    """SeriesInstanceUIDs listed on an ``imaging_study`` fact."""
    out = set()
    for series in _study(fact).series:
        uid = _uid(series.uid)
        if uid:
            out.add(uid)
    return out


def _study(fact: Fact) -> ImagingStudyDetails:
    return fact.details if isinstance(fact.details, ImagingStudyDetails) else ImagingStudyDetails()


def reports_for_study(study_ref: str, facts: Iterable[Fact]) -> list[str]:
    """References of report facts whose ``related`` cites the study (DiagnosticReport.imagingStudy)."""
    found: list[str] = []
    for fact in facts:
        if fact.kind == FactKind.report and study_ref in fact.related and fact.reference not in found:
            found.append(fact.reference)
    return found


def _same_path(image_source: str, mapped: str) -> bool:
    source, target = Path(image_source).resolve(), Path(mapped).resolve()
    return source == target or target in source.parents


def link_series(
    images: Sequence[ImageSeries], facts: Sequence[Fact], *, case_map: Mapping[str, str] | None = None
) -> list[StudyLink]:
    """One `StudyLink` per image series that matches an ``imaging_study`` fact (unmatched: none)."""
    studies = [f for f in facts if f.kind == FactKind.imaging_study]
    links: list[StudyLink] = []
    for image in images:
        match: tuple[str, MatchKind] | None = None
        if image.series_uid:
            match = next(
                ((s.reference, "series_uid") for s in studies if image.series_uid in study_series_uids(s)),
                None,
            )
        if match is None and image.study_uid:
            match = next(
                ((s.reference, "study_uid") for s in studies if _uid(_study(s).study_uid) == image.study_uid),
                None,
            )
        if match is None and case_map:
            match = next(
                ((ref, "case_map") for ref, path in case_map.items() if _same_path(image.source, path)), None
            )
        if match is not None:
            study, how = match
            links.append(StudyLink(image.id, study, how, tuple(reports_for_study(study, facts))))
    return links
