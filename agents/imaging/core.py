"""The imaging reader's deterministic core: what the images are, what the radiology reports say.

No model is needed for any of this, so it runs on every case, on the case's images
(`medboard.agents.images`, loaded once per case):

* Findings: one per series (modality, body part, date, frame count, spacing; citing a frame and the
  linked `ImagingStudy`), one per radiology report conclusion (citing the `DiagnosticReport` with the
  conclusion quoted), one per `ImagingStudy` whose images this case does not have, and one per mask
  measurement (voxels, volume, longest in-plane diameter, citing the frame of the diameter).

Boxes: an `EvidenceRef.box` written by this package is ``[y0, x0, y1, x1]`` normalised to 0–1000 on
the **source frame** (rows for y, columns for x), not on the padded square the model saw, so that
anyone holding the original frame can draw it without knowing the letterbox; the source pixel
coordinates are also written into the finding's notes (`medboard.tools.imaging.boxes` converts).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from medboard.agents.images import CaseImage, CaseImages, file_name, report_conclusion, study_details
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, SectionKind, iso_day
from medboard.models.fact_kinds import ReportDetails
from medboard.tools.imaging.boxes import source_box

if TYPE_CHECKING:
    from medboard.tools.imaging.series import ImageSeries

log = logging.getLogger(__name__)

AGENT = "imaging"
TAGS = ["imaging"]

#: LOINC codes of imaging report documents (a report coded so is radiology even without a category).
IMAGING_REPORT_LOINC = frozenset(
    {
        "18748-4",  # Diagnostic imaging study
        "18782-3",  # Radiology Study observation (narrative)
        "18726-0",  # Radiology studies (set)
        "24627-2",  # CT Chest
        "36643-5",  # XR Chest 2 Views
        "30746-2",  # Portable XR Chest Views
        "24531-6",  # US Abdomen
        "24604-1",  # MG Breast Diagnostic
        "24606-6",  # MG Breast Screening
        "44136-0",  # PET whole body
    }
)
# Category displays/codes (HL7 v2 table 0074 diagnostic service sections and their displays).
_RADIOLOGY_CATEGORY = re.compile(
    r"^(rad|ct|rx|nmr|nms|vus|cus|ous|rus)$|radiology|imaging|radiograph|ultrasound|tomograph|nuclear",
    re.IGNORECASE,
)
_IMAGING_WORDS = re.compile(
    r"\b(ct|mri?|x-?ray|xr|cxr|radiograph\w*|ultrasound|sonograph\w*|mammogra\w*|pet|"
    r"scan|imaging|radiology|tomograph\w*)\b",
    re.IGNORECASE,
)


# ------------------------------------------------------------------------------------ loading


# ----------------------------------------------------------------------------------- findings


def _fmt(value: float, digits: int = 3) -> str:
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.1f}"


def what_of(series: ImageSeries) -> str:
    """``MR brain``, ``CR CHEST``, ``image``: modality and body part as far as they are known."""
    parts = [p for p in (series.modality, series.body_part) if p]
    return (
        " ".join(parts) if parts else {"patches": "pathology", "volume": "volume"}.get(series.kind, "image")
    )


def describe_finding(image: CaseImage, study: Fact | None) -> Finding:
    """What the series is: modality, body part, date, frames, size, spacing; citing a frame (+ study)."""
    series = image.series
    rows, cols = series.shape[1], series.shape[2]
    n = series.frame_count
    unit = {"volume": "slice", "patches": "tissue patch"}.get(series.kind, "frame")
    plural = unit if n == 1 else ("tissue patches" if unit == "tissue patch" else f"{unit}s")
    text = f"{what_of(series)} series {series.id}"
    if image.date:
        text += f" on {image.date}"
    text += f": {n} {plural} of {rows}×{cols} pixels"
    if series.spacing:
        between, row_mm, col_mm = series.spacing
        text += f", pixel spacing {_fmt(row_mm)} × {_fmt(col_mm)} mm" + (
            f", {_fmt(between)} mm between slices" if series.is_volume and n > 1 else ""
        )
    text += "."
    evidence = [EvidenceRef(reference=image.ref())]
    notes = list(image.notes) + list(series.notes)
    if study is not None:
        study_day = iso_day(study.date) if study.date else None
        if study_day and image.date and study_day != image.date:
            notes.append(f"image date {image.date} differs from {study.reference} date {study_day}")
        else:
            evidence.append(study.evidence)
    notes.append(f"source: {file_name(series.source)}; recipe {image.recipe}")
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=evidence,
        date=image.date,
        notes=notes,
        section=SectionKind.imaging,
        tags=[*TAGS, "image-series"],
    )


def is_radiology_report(report: Fact) -> bool:
    """A report about images: it cites an ImagingStudy, or its category or code says imaging."""
    if report.kind != FactKind.report:
        return False
    if any(ref.startswith("ImagingStudy/") for ref in report.related):
        return True
    categories = report.details.category if isinstance(report.details, ReportDetails) else []
    if any(_RADIOLOGY_CATEGORY.search(str(c)) for c in categories):
        return True
    if any(c.code in IMAGING_REPORT_LOINC for c in report.codes):
        return True
    return bool(_IMAGING_WORDS.search(report.label))


def report_findings(facts: Sequence[Fact], images: CaseImages) -> list[Finding]:
    """Each radiology report's conclusion, quoted, citing the report, its study and a linked frame."""
    findings = []
    for report in facts:
        if not is_radiology_report(report):
            continue
        conclusion = report_conclusion(report)
        if not conclusion:
            continue
        evidence = [EvidenceRef(reference=report.evidence.reference, path="conclusion", quote=conclusion)]
        studies = [ref for ref in report.related if ref.startswith("ImagingStudy/")]
        for study in studies:
            evidence.append(EvidenceRef(reference=study))
            evidence.extend(EvidenceRef(reference=image.ref()) for image in images.for_study(study))
        when = f" on {iso_day(report.date)}" if report.date else ""
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.imaging,
                text=f"{report.label}{when} concluded: {conclusion}",
                evidence=evidence,
                date=iso_day(report.date) if report.date else None,
                laterality=report.laterality,
                section=SectionKind.imaging,
                tags=[*TAGS, "report"],
            )
        )
    return findings


def study_summary(study: Fact) -> str:
    modalities = ", ".join(study_details(study).modalities) or "imaging"
    site = f" {study.body_site}" if study.body_site else ""
    when = f" on {iso_day(study.date)}" if study.date else ""
    return f"{modalities}{site}{when}"


def unavailable_study_finding(study: Fact) -> Finding:
    """An ImagingStudy this case has no images for: what it was, from the record alone."""
    details = study_details(study)
    series = details.series
    instances = details.number_of_instances
    if instances is None:
        instances = sum(s.instances or 0 for s in series)
    text = (
        f"Imaging study {study_summary(study)}: {len(series)} series, {instances} "
        f"instance{'' if instances == 1 else 's'} (images not available to this summary)."
    )
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=[study.evidence],
        date=iso_day(study.date) if study.date else None,
        laterality=study.laterality,
        section=SectionKind.imaging,
        tags=[*TAGS, "study"],
    )


def measurement_finding(image: CaseImage) -> Finding | None:
    """The mask's lesion size, citing the frame of its longest in-plane diameter (with its box)."""
    m = image.measurement
    if m is None:
        return None
    series = image.series
    label = f" (label {image.label})" if image.label is not None else ""
    mask = file_name(image.mask or "mask")
    base = f"Lesion mask {mask}{label} on {what_of(series)} series {series.id}"
    if image.date:
        base += f" of {image.date}"
    if m.voxels == 0 or m.diameter_frame is None:
        return Finding.create(
            agent=AGENT,
            category=FindingCategory.imaging,
            text=f"{base}: empty (no lesion voxels).",
            evidence=[EvidenceRef(reference=image.ref())],
            value=0.0,
            unit="mm",
            date=image.date,
            notes=list(m.notes),
            section=SectionKind.imaging,
            tags=[*TAGS, "measurement"],
        )
    rows, cols = series.shape[1], series.shape[2]
    notes = [*m.notes, f"spacing (frame, row, column) mm: {', '.join(_fmt(s, 4) for s in m.spacing_mm)}"]
    box = None
    if m.diameter_endpoints is not None:
        (r0, c0), (r1, c1) = m.diameter_endpoints
        pixels = (min(r0, r1), min(c0, c1), max(r0, r1), max(c0, c1))
        box = source_box(pixels, rows, cols)
        notes.append(
            f"diameter end points (row, col) px on frame {m.diameter_frame}: "
            f"({r0:.1f}, {c0:.1f}) – ({r1:.1f}, {c1:.1f})"
        )
    text = (
        f"{base}: {m.voxels} voxels, volume {m.volume_mm3:.0f} mm³, longest in-plane diameter "
        f"{m.max_inplane_diameter_mm:.1f} mm (frame {m.diameter_frame})."
    )
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=[
            EvidenceRef(
                reference=image.ref(m.diameter_frame),
                box=box,
                quote=f"longest in-plane diameter {m.max_inplane_diameter_mm:.1f} mm",
            )
        ],
        value=round(m.max_inplane_diameter_mm, 1),
        unit="mm",
        date=image.date,
        notes=notes,
        section=SectionKind.imaging,
        tags=[*TAGS, "measurement"],
    )


def deterministic_findings(facts: Sequence[Fact], images: CaseImages) -> list[Finding]:
    """Everything the imaging reader says without a model, in a stable order."""
    studies = {f.reference: f for f in facts if f.kind == FactKind.imaging_study}
    findings: list[Finding] = []
    for image in images.images:
        findings.append(describe_finding(image, studies.get(image.study) if image.study else None))
        measured = measurement_finding(image)
        if measured is not None:
            findings.append(measured)
    findings.extend(report_findings([f for f in facts if f.kind == FactKind.report], images))
    seen = {image.study for image in images.images if image.study}
    for ref, study in studies.items():
        if ref not in seen:
            findings.append(unavailable_study_finding(study))
    return findings


def image_problems(images: CaseImages) -> list[str]:
    """Failures worth degrading the imaging section for: unreadable images and masks."""
    problems = [f"image {f}" for f in images.failures]
    problems += [f"mask {i.mask_error}" for i in images.images if i.mask_error]
    return problems
