"""The case's images, loaded once per case and shared by every specialist that looks at them.

`load_case_images` loads each case image once (`medboard.tools.imaging.load_image`), fills in what
the case YAML adds (date, modality, body site for PNG/NRRD files that carry none), links each
series to its `ImagingStudy` (DICOM UIDs, else the YAML's ``study:``), and measures its mask when
the YAML gives one. A file that cannot be read becomes a named failure, not an exception: the
imaging section degrades, the rest of the case goes on.

`case_images` does that once per case and shares the result through the `CaseContext`: the imaging
reader and the longitudinal comparer read the same series, and the verifier resolves
``image:<series>#frame=i`` against `CaseContext.image_series`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medboard.agents.case import CaseContext
from medboard.errors import MedboardInputError
from medboard.models import Fact, FactKind, image_ref, iso_day
from medboard.models.fact_kinds import ImagingStudyDetails, ReportDetails

if TYPE_CHECKING:
    from medboard.tools.imaging.measure import MaskMeasurement
    from medboard.tools.imaging.series import ImageSeries

log = logging.getLogger(__name__)


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
        return iso_day(day) if day else None

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


def file_name(path: str) -> str:
    """The file name a message may show (never the folders around it)."""
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
            out.failures.append(f"{file_name(path)}: unknown recipe {recipe!r} (choose {', '.join(RECIPES)})")
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
            out.failures.append(f"{file_name(path)}: {reason}"[:300])
            log.info("imaging: image %d could not be loaded (%s)", index, type(error).__name__)
            continue
        notes: list[str] = []
        if series.id in used:  # two files with the same stem: keep evidence ids unambiguous
            series.id = f"{series.id}-{index + 1}"
            notes.append(f"series id made unique as {series.id}")
        used.add(series.id)
        date = _entry_value(entry, "date")
        if date and not (series.study_date or series.series_date):
            series.study_date = iso_day(str(date))
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
                problem = getattr(error, "problem", None) or error
                image.mask_error = f"{file_name(image.mask)}: {problem}"[:300]
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
            modalities = study_details(study).modalities
            if not image.series.modality and modalities:
                image.series.modality = str(modalities[0])
            if not image.series.body_part and study.body_site:
                image.series.body_part = study.body_site
            if not (image.series.study_date or image.series.series_date) and study.date:
                image.series.study_date = iso_day(study.date)
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


def study_details(study: Fact) -> ImagingStudyDetails:
    """An ImagingStudy fact's details (empty ones for any other kind of fact)."""
    return study.details if isinstance(study.details, ImagingStudyDetails) else ImagingStudyDetails()


def report_conclusion(report: Fact) -> str:
    """A report fact's conclusion, stripped ("" for a report without one, or another kind of fact)."""
    return ((report.details.conclusion if isinstance(report.details, ReportDetails) else None) or "").strip()
