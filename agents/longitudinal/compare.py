"""Prior versus current imaging, deterministically: which studies pair up, and what changed.

Studies are paired when they share a modality (CR and DX count as one: plain X-ray) and a body
site, and have distinct dates: the latest is *current*, the one before it *prior*. Time points come
from the record's `ImagingStudy` facts (with their linked images and radiology reports) and from
case images no study claims (dated by DICOM or by the case YAML's ``date:``).

Without a model the comparison is deterministic: the two reports' conclusions side by side, both
cited; mask measurements as the change of the longest in-plane diameter in mm and %, both frames
cited; with masks at two or more time points, RECIST 1.1 over them (`lesion_from_mask` + `assess`).
With a vision model, `reader.py` sends each pictured pair in MedGemma's longitudinal recipe.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated

from pydantic import Field

from medboard.agents.images import CaseImage, CaseImages, report_conclusion, study_details
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day

if TYPE_CHECKING:
    pass

AGENT = "longitudinal"
TAGS = ["imaging", "comparison"]
MAX_CHANGES = 6
BoxCoord = Annotated[int, Field(ge=0, le=1000)]

_MODALITY_GROUPS = {"CR": "XR", "DX": "XR", "RG": "XR"}
_RECIPE_MODALITY = {"cxr": "XR", "ct": "CT", "mri": "MR"}
_SITE_SYNONYMS = {
    "thoracic": "chest",
    "thorax": "chest",
    "lung": "chest",
    "lungs": "chest",
    "cerebrum": "brain",
}


def modality_group(modality: str | None, recipe: str | None = None) -> str | None:
    if modality:
        code = modality.strip().upper()
        return _MODALITY_GROUPS.get(code, code)
    return _RECIPE_MODALITY.get(recipe or "")


def site_key(site: str | None, recipe: str | None = None) -> str | None:
    """``Thoracic structure (body structure)`` → ``chest``; None when unknown."""
    if not site:
        return "chest" if recipe == "cxr" else None
    text = re.sub(r"\(.*?\)|\bstructures?\b|\bentire\b", " ", site.lower())
    words = re.findall(r"[a-z]+", text)
    if not words:
        return None
    return " ".join(_SITE_SYNONYMS.get(w, w) for w in words)


@dataclass
class ImagingTimepoint:
    """One dated imaging study (or unclaimed case image) with its images and reports."""

    date: str
    modality: str
    site: str
    study: Fact | None = None
    images: list[CaseImage] = field(default_factory=list)
    reports: list[Fact] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.modality} {self.site}"

    @property
    def measured(self) -> CaseImage | None:
        return next((i for i in self.images if i.measurement is not None), None)

    @property
    def picture(self) -> CaseImage | None:
        """A 2D image the longitudinal recipe can show."""
        return next((i for i in self.images if i.series.kind == "image"), None)

    def evidence(self) -> list[EvidenceRef]:
        refs = [EvidenceRef(reference=self.study.reference)] if self.study is not None else []
        return refs + [EvidenceRef(reference=image.ref()) for image in self.images]


@dataclass
class ImagingPair:
    prior: ImagingTimepoint
    current: ImagingTimepoint
    #: Every dated time point of this modality and site, oldest first (for RECIST).
    series: list[ImagingTimepoint]


def imaging_timepoints(facts: Sequence[Fact], images: CaseImages) -> list[ImagingTimepoint]:
    """Dated time points with a known modality and site (others cannot be paired and are left out)."""
    reports: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        if fact.kind == FactKind.report and report_conclusion(fact):
            for ref in fact.related:
                if ref.startswith("ImagingStudy/"):
                    reports[ref].append(fact)
    points: list[ImagingTimepoint] = []
    claimed: set[str] = set()
    for study in (f for f in facts if f.kind == FactKind.imaging_study):
        linked = images.for_study(study.reference)
        claimed.update(i.series.id for i in linked)
        recorded = study_details(study).modalities
        modalities = recorded or [i.series.modality for i in linked if i.series.modality]
        modality = modality_group(modalities[0] if modalities else None, linked[0].recipe if linked else None)
        site = site_key(
            study.body_site or next((i.series.body_part for i in linked if i.series.body_part), None)
        )
        date = iso_day(study.date or next((i.date for i in linked if i.date), None) or "")
        if modality and site and date:
            points.append(ImagingTimepoint(date, modality, site, study, linked, reports[study.reference]))
    for image in images.images:
        if image.series.id in claimed:
            continue
        modality = modality_group(image.series.modality, image.recipe)
        site = site_key(image.series.body_part, image.recipe)
        if modality and site and image.date:
            points.append(ImagingTimepoint(image.date, modality, site, images=[image]))
    return points


def imaging_pairs(points: Sequence[ImagingTimepoint]) -> list[ImagingPair]:
    """Per (modality, site): the latest time point against the one before it."""
    groups: dict[tuple[str, str], list[ImagingTimepoint]] = defaultdict(list)
    for point in points:
        groups[(point.modality, point.site)].append(point)
    pairs = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda p: p.date)
        if len({p.date for p in ordered}) < 2:
            continue
        current = ordered[-1]
        prior = next(p for p in reversed(ordered) if p.date < current.date)
        pairs.append(ImagingPair(prior, current, ordered))
    return pairs


# -------------------------------------------------------------------------- deterministic


def _signed(value: float, digits: int = 1) -> str:
    return f"{value:+.{digits}f}".replace("-", "−")


def report_comparison(pair: ImagingPair) -> Finding | None:
    """Both conclusions side by side, both reports (and studies, frames) cited."""
    if not pair.prior.reports or not pair.current.reports:
        return None
    prior, current = pair.prior.reports[-1], pair.current.reports[-1]
    p = report_conclusion(prior)
    c = report_conclusion(current)
    stop = "" if p.endswith(".") else "."
    text = (
        f"{pair.current.label}: prior {pair.prior.date} concluded: {p}{stop} "
        f"Current {pair.current.date} concluded: {c}"
    )
    evidence = [
        EvidenceRef(reference=prior.reference, path="conclusion", quote=p),
        EvidenceRef(reference=current.reference, path="conclusion", quote=c),
        *pair.prior.evidence(),
        *pair.current.evidence(),
    ]
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=evidence,
        date=pair.current.date,
        section=SectionKind.imaging,
        tags=TAGS,
    )


def measurement_comparison(pair: ImagingPair) -> Finding | None:
    """Change of the mask-measured longest in-plane diameter, prior → current, both frames cited."""
    before, after = pair.prior.measured, pair.current.measured
    if before is None or after is None or before.measurement is None or after.measurement is None:
        return None
    d0, d1 = before.measurement.max_inplane_diameter_mm, after.measurement.max_inplane_diameter_mm
    change = d1 - d0
    percent = f" ({_signed(change / d0 * 100)} %)" if d0 else ""
    text = (
        f"{pair.current.label} lesion longest in-plane diameter {d0:.1f} mm on {pair.prior.date} → "
        f"{d1:.1f} mm on {pair.current.date}: {_signed(change)} mm{percent}."
    )
    v0, v1 = before.measurement.volume_mm3, after.measurement.volume_mm3
    notes = [f"volume {v0:.0f} mm³ → {v1:.0f} mm³" + (f" ({_signed((v1 - v0) / v0 * 100)} %)" if v0 else "")]
    evidence = []
    for image in (before, after):
        m = image.measurement
        assert m is not None
        frame = m.diameter_frame if m.diameter_frame is not None else image.middle_frame
        evidence.append(
            EvidenceRef(
                reference=image.ref(frame),
                quote=f"longest in-plane diameter {m.max_inplane_diameter_mm:.1f} mm",
            )
        )
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=evidence,
        value=round(change, 1),
        unit="mm",
        date=pair.current.date,
        notes=notes,
        section=SectionKind.imaging,
        tags=[*TAGS, "measurement"],
    )


def recist_from_masks(pair: ImagingPair) -> list[Finding]:
    """RECIST 1.1 over every mask-measured time point of the pair's modality and site."""
    from medboard.agents.longitudinal.core import recist_findings
    from medboard.tools.longitudinal.recist import RecistError, TimePoint, assess, lesion_from_mask

    measured = [(p, p.measured) for p in pair.series if p.measured is not None]
    if len(measured) < 2:
        return []
    timepoints = []
    note = f"target lesion L1 ({pair.current.site}) measured from masks: " + ", ".join(
        f"{image.mask and image.mask.rsplit('/', 1)[-1]} ({point.date})" for point, image in measured
    )
    try:
        for point, image in measured:
            assert image is not None and image.measurement is not None
            lesion = lesion_from_mask(
                image.measurement, lesion_id="L1", organ=pair.current.site, series=image.series.id
            )
            timepoints.append(TimePoint(date=point.date, lesions=[lesion]))
        assessment = assess(timepoints)
    except RecistError as error:
        refs = [ref for tp in timepoints for lesion in tp.lesions for ref in lesion.evidence]
        if not refs:
            return []
        return [
            Finding.create(
                agent=AGENT,
                category=FindingCategory.response,
                text="No RECIST response could be computed from the mask measurements: "
                f"{str(error).rstrip('.')}.",
                evidence=refs,
                notes=[note, f"RECIST not assessed: {error}"],
                # About the data, not the patient: an open question, not a summary statement.
                section=SectionKind.discrepancies_and_open_questions,
                tags=["data-quality"],
            )
        ]
    return recist_findings(assessment, [note])


def deterministic_comparisons(pairs: Sequence[ImagingPair]) -> list[Finding]:
    findings: list[Finding] = []
    for pair in pairs:
        for finding in (report_comparison(pair), measurement_comparison(pair)):
            if finding is not None:
                findings.append(finding)
        findings.extend(recist_from_masks(pair))
    return findings
