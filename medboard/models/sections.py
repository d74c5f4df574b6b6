"""The summary's sections: which ones exist, in what order, and where a finding goes by default.

A section is identified by a short snake_case id (`SectionId`). The built-in ones are the
`SectionKind` members; a specialist may declare more (`SectionSpec`), so adding a specialist that
feeds a section of its own needs no edit here or in the synthesizer. A finding names its section
(`Finding.section`, set by the specialist that made it); `medboard.models.findings.default_section`
is the category-based default for findings a specialist did not place itself.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

#: A section id: the built-in `SectionKind` values, or one a specialist declares.
SectionId = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]


class SectionKind(StrEnum):
    """The built-in sections (their values are `SectionId`s).

    The board layout (`BOARD_SECTIONS`) is what a summary shows: a headline, the answer, one
    ``cancer`` section per cancer, key labs, medications, risk factors and history (smoking, family
    history: a topic and its board section at once), imaging, data quality, open questions and an
    appendix. ``patient``, ``oncologic_history``, ``current_status`` and ``labs_and_trends`` are
    *topics* a specialist files its findings under; the synthesizer places such findings in the
    board sections, and what no board section takes goes to the appendix.
    """

    headline = "headline"
    answer = "answer"
    cancer = "cancer"
    key_labs = "key_labs"
    data_quality = "data_quality"
    appendix = "appendix"
    patient = "patient"
    oncologic_history = "oncologic_history"
    current_status = "current_status"
    imaging = "imaging"
    labs_and_trends = "labs_and_trends"
    medications = "medications"
    discrepancies_and_open_questions = "discrepancies_and_open_questions"
    history = "history"


class SectionSpec(BaseModel):
    """A section a specialist feeds: its id, its title, and where it sits in the summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SectionId
    title: str
    order: int = Field(description="Sections are laid out by ascending order (built-ins: 0–100).")


#: The built-in sections, in the summary's canonical order. Every summary has all of them (empty
#: ones say so); sections declared by specialists are laid out among them by `order`.
BUILTIN_SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(kind=SectionKind.answer, title="Answer to the board question", order=0),
    SectionSpec(kind=SectionKind.patient, title="Patient", order=10),
    SectionSpec(kind=SectionKind.oncologic_history, title="Oncologic history", order=20),
    SectionSpec(kind=SectionKind.current_status, title="Current status", order=30),
    SectionSpec(kind=SectionKind.imaging, title="Imaging", order=40),
    SectionSpec(kind=SectionKind.labs_and_trends, title="Labs and trends", order=50),
    SectionSpec(kind=SectionKind.medications, title="Medications", order=60),
    SectionSpec(
        kind=SectionKind.discrepancies_and_open_questions, title="Discrepancies and open questions", order=100
    ),
)

BUILTIN_BY_KIND: dict[str, SectionSpec] = {spec.kind: spec for spec in BUILTIN_SECTIONS}

#: The board-ready layout, in order. ``cancer`` is laid out once per cancer of the picture (titled
#: by the cancer); a specialist's own sections sit among these by their `order`.
BOARD_SECTIONS: tuple[SectionSpec, ...] = (
    SectionSpec(kind=SectionKind.headline, title="Headline", order=0),
    SectionSpec(kind=SectionKind.answer, title="Answer to the board question", order=5),
    SectionSpec(kind=SectionKind.cancer, title="Cancer", order=10),
    SectionSpec(kind=SectionKind.key_labs, title="Key labs", order=30),
    SectionSpec(kind=SectionKind.medications, title="Current medications and fitness", order=40),
    SectionSpec(kind=SectionKind.history, title="Risk factors and history", order=45),
    SectionSpec(kind=SectionKind.imaging, title="Imaging", order=50),
    SectionSpec(kind=SectionKind.data_quality, title="Data quality", order=60),
    SectionSpec(kind=SectionKind.discrepancies_and_open_questions, title="Open questions", order=70),
    SectionSpec(kind=SectionKind.appendix, title="Appendix", order=1000),
)

BOARD_BY_KIND: dict[str, SectionSpec] = {spec.kind: spec for spec in BOARD_SECTIONS}
