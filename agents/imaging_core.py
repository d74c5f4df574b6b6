"""The imaging reader's deterministic core: what the images are, what the radiology reports say.

No model is needed for any of this, so it runs on every case:

* `load_case_images` loads each case image once (`medboard.tools.imaging.load_image`), fills in
  what the case YAML adds (date, modality, body site for PNG/NRRD files that carry none), links
  each series to its `ImagingStudy` (DICOM UIDs, else the YAML's ``study:``), and measures its mask
  when the YAML gives one. A file that cannot be read becomes a named failure, not an exception:
  the imaging section degrades, the rest of the case goes on.
* `case_images` does that once per case and shares the result through the `CaseContext` (the
  longitudinal comparer needs the same series, and the verifier resolves ``image:<series>#frame=i``
  against `CaseContext.image_series`).
* Findings: one per series (modality, body part, date, frame count, spacing; citing a frame and the
  linked `ImagingStudy`), one per radiology report conclusion (citing the `DiagnosticReport` with the
  conclusion quoted), one per `ImagingStudy` whose images this case does not have, and one per mask
  measurement (voxels, volume, longest in-plane diameter, citing the frame of the diameter).

Boxes: an `EvidenceRef.box` written by this package is ``[y0, x0, y1, x1]`` normalised to 0–1000 on
the **source frame** (rows for y, columns for x), not on the padded square the model saw, so that
anyone holding the original frame can draw it without knowing the letterbox; the source pixel
coordinates are also written into the finding's notes. `source_box` / `box_pixels` convert.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.errors import MedboardInputError
from medboard.models import EvidenceRef, Fact, FactKind, Finding, FindingCategory, image_ref
from medboard.models.fact_kinds import ImagingStudyDetails, ReportDetails

if TYPE_CHECKING:
    from medboard.orchestrator.context import CaseContext
    from medboard.tools.imaging.layouts import ImagePart
    from medboard.tools.imaging.measure import MaskMeasurement
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


@dataclass
class CaseImage:
    """One loaded case image with what the case and the record say about it."""

    index: int
    path: str
    series: ImageSeries
    recipe: str
    study: str | None = None  # "ImagingStudy/<id>" it is linked to
    reports: tuple[str, ...] = ()
    mask: str | None = None
    label: int | None = None
    measurement: MaskMeasurement | None = None
    mask_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def date(self) -> str | None:
        """The acquisition day (YYYY-MM-DD) when known."""
        day = self.series.study_date or self.series.series_date
        return day[:10] if day else None

    @property
    def middle_frame(self) -> int:
        return self.series.frame_count // 2

    def ref(self, frame: int | None = None) -> str:
        return image_ref(self.series.id, self.middle_frame if frame is None else frame)


@dataclass
class CaseImages:
    images: list[CaseImage] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def by_series(self) -> dict[str, ImageSeries]:
        return {image.series.id: image.series for image in self.images}

    def for_study(self, study: str) -> list[CaseImage]:
        return [image for image in self.images if image.study == study]


def _entry_value(entry: Any, key: str) -> Any:
    if isinstance(entry, Mapping):
        return entry.get(key)
    return getattr(entry, key, None)


def _name(path: str) -> str:
    return Path(path).name or path


def load_case_images(
    entries: Sequence[Any], facts: Sequence[Fact], *, case_map: Mapping[str, str] | None = None
) -> CaseImages:
    """Load, describe and link every case image; unreadable ones become named failures."""
    from medboard.tools.imaging import default_recipe, link_series, load_image, reports_for_study
    from medboard.tools.imaging.layouts import RECIPES
    from medboard.tools.imaging.masks import measure_mask_file

    out = CaseImages()
    used: set[str] = set()
    for index, entry in enumerate(entries):
        path = str(_entry_value(entry, "path") or "")
        recipe = _entry_value(entry, "recipe")
        if recipe is not None and recipe not in RECIPES:
            out.failures.append(f"{_name(path)}: unknown recipe {recipe!r} (choose {', '.join(RECIPES)})")
            continue
        try:
            series = load_image(
                path,
                series=_entry_value(entry, "series"),
                patches=recipe == "wsi",
                modality=_entry_value(entry, "modality"),
            )
        except (MedboardInputError, OSError, ValueError) as error:
            reason = getattr(error, "problem", None) or str(error)
            out.failures.append(f"{_name(path)}: {reason}"[:300])
            log.info("imaging: image %d could not be loaded (%s)", index, type(error).__name__)
            continue
        notes: list[str] = []
        if series.id in used:  # two files with the same stem: keep evidence ids unambiguous
            series.id = f"{series.id}-{index + 1}"
            notes.append(f"series id made unique as {series.id}")
        used.add(series.id)
        date = _entry_value(entry, "date")
        if date and not (series.study_date or series.series_date):
            series.study_date = str(date)[:10]
        if not series.modality and _entry_value(entry, "modality"):
            series.modality = str(_entry_value(entry, "modality"))
        if not series.body_part and _entry_value(entry, "body_site"):
            series.body_part = str(_entry_value(entry, "body_site"))
        image = CaseImage(
            index=index,
            path=path,
            series=series,
            recipe=recipe or default_recipe(series),
            mask=_entry_value(entry, "mask"),
            label=_entry_value(entry, "label"),
            notes=notes,
        )
        if image.mask:
            try:
                image.measurement = measure_mask_file(series, image.mask, label=image.label)
            except (MedboardInputError, OSError, ValueError) as error:
                image.mask_error = f"{_name(image.mask)}: {getattr(error, 'problem', None) or error}"[:300]
        out.images.append(image)
    # An entry's own `study:` wins; then DICOM UIDs; then a case-level path map (for entries that
    # name no study: the same file listed twice must not inherit the other entry's study).
    explicit = {i.series.id: str(_entry_value(entries[i.index], "study") or "") for i in out.images}
    claimed = {str(Path(i.path).resolve()) for i in out.images if explicit[i.series.id]}
    mapping = {
        ref: path for ref, path in (case_map or {}).items() if str(Path(path).resolve()) not in claimed
    }
    open_images = [i.series for i in out.images if not explicit[i.series.id]]
    links: dict[str, tuple[str, tuple[str, ...]]] = {
        link.series_id: (link.study, link.reports)
        for link in link_series(open_images, facts, case_map=mapping)
    }
    for image in out.images:
        named = explicit[image.series.id]
        if named:
            links[image.series.id] = (named, tuple(reports_for_study(named, facts)))
    studies = {f.reference: f for f in facts if f.kind == FactKind.imaging_study}
    for image in out.images:
        if image.series.id not in links:
            continue
        image.study, image.reports = links[image.series.id]
        study = studies.get(image.study or "")
        if study is not None:
            modalities = _study_details(study).modalities
            if not image.series.modality and modalities:
                image.series.modality = str(modalities[0])
            if not image.series.body_part and study.body_site:
                image.series.body_part = study.body_site
            if not (image.series.study_date or image.series.series_date) and study.date:
                image.series.study_date = study.date[:10]
    return out


async def case_images(context: CaseContext) -> CaseImages:
    """The case's images, loaded once per case (off the event loop) and shared via the context."""
    if context.image_loading is None:
        context.image_loading = asyncio.ensure_future(
            asyncio.to_thread(
                load_case_images,
                list(context.case.images),
                context.record.facts,
                case_map=context.case.image_links,
            )
        )
    images: CaseImages = await context.image_loading
    context.image_series.update(images.by_series())
    return images


# ------------------------------------------------------------------------------------- boxes


def source_box(pixels: Sequence[float], rows: int, cols: int) -> tuple[int, int, int, int]:
    """Source pixel box ``(y0, x0, y1, x1)`` → 0–1000 normalised on the source frame."""
    y0, x0, y1, x1 = (float(v) for v in pixels)

    def norm(value: float, size: int) -> int:
        return min(1000, max(0, round(value / size * 1000))) if size else 0

    return norm(y0, rows), norm(x0, cols), norm(y1, rows), norm(x1, cols)


def box_pixels(box: Sequence[float], rows: int, cols: int) -> tuple[float, float, float, float]:
    """An `EvidenceRef.box` (0–1000 on the source frame) → source pixel coordinates."""
    y0, x0, y1, x1 = (float(v) for v in box)
    return y0 * rows / 1000, x0 * cols / 1000, y1 * rows / 1000, x1 * cols / 1000


def map_box(part: ImagePart, box: Sequence[int]) -> tuple[tuple[int, int, int, int] | None, str]:
    """A model box on the padded model image → (box on the source frame 0–1000, note with pixels)."""
    y0, x0, y1, x1 = box
    if y0 > y1 or x0 > x1:
        return None, f"model box {list(box)} discarded: not [y0, x0, y1, x1] with y0 <= y1 and x0 <= x1"
    py0, px0, py1, px1 = part.box_to_source(box)
    if py1 <= py0 or px1 <= px0:
        return None, f"model box {list(box)} discarded: it lies in the padding, outside the image"
    rows, cols = part.transform.source
    note = (
        f"box on source frame {part.frame} (pixels): y {py0:.0f}–{py1:.0f}, x {px0:.0f}–{px1:.0f} "
        f"of {rows}×{cols}; model box {list(box)} on the padded {part.transform.size}-px image"
    )
    return source_box((py0, px0, py1, px1), rows, cols), note


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
        study_day = study.date[:10] if study.date else None
        if study_day and image.date and study_day != image.date:
            notes.append(f"image date {image.date} differs from {study.reference} date {study_day}")
        else:
            evidence.append(study.evidence)
    notes.append(f"source: {_name(series.source)}; recipe {image.recipe}")
    return Finding.create(
        agent=AGENT,
        category=FindingCategory.imaging,
        text=text,
        evidence=evidence,
        date=image.date,
        notes=notes,
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
        when = f" on {report.date[:10]}" if report.date else ""
        findings.append(
            Finding.create(
                agent=AGENT,
                category=FindingCategory.imaging,
                text=f"{report.label}{when} concluded: {conclusion}",
                evidence=evidence,
                date=report.date[:10] if report.date else None,
                laterality=report.laterality,
                tags=[*TAGS, "report"],
            )
        )
    return findings


def report_conclusion(report: Fact) -> str:
    """A report fact's conclusion, stripped ("" for a report without one, or another kind of fact)."""
    return ((report.details.conclusion if isinstance(report.details, ReportDetails) else None) or "").strip()


def _study_details(study: Fact) -> ImagingStudyDetails:
    """An ImagingStudy fact's details (empty ones for any other kind of fact)."""
    return study.details if isinstance(study.details, ImagingStudyDetails) else ImagingStudyDetails()


def study_summary(study: Fact) -> str:
    modalities = ", ".join(_study_details(study).modalities) or "imaging"
    site = f" {study.body_site}" if study.body_site else ""
    when = f" on {study.date[:10]}" if study.date else ""
    return f"{modalities}{site}{when}"


def unavailable_study_finding(study: Fact) -> Finding:
    """An ImagingStudy this case has no images for: what it was, from the record alone."""
    details = _study_details(study)
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
        date=study.date[:10] if study.date else None,
        laterality=study.laterality,
        tags=[*TAGS, "study"],
    )


def measurement_finding(image: CaseImage) -> Finding | None:
    """The mask's lesion size, citing the frame of its longest in-plane diameter (with its box)."""
    m = image.measurement
    if m is None:
        return None
    series = image.series
    label = f" (label {image.label})" if image.label is not None else ""
    mask = _name(image.mask or "mask")
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
