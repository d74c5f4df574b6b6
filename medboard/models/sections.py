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
    """The built-in sections (their values are `SectionId`s)."""

    answer = "answer"
    patient = "patient"
    oncologic_history = "oncologic_history"
    current_status = "current_status"
    imaging = "imaging"
    labs_and_trends = "labs_and_trends"
    medications = "medications"
    discrepancies_and_open_questions = "discrepancies_and_open_questions"


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
