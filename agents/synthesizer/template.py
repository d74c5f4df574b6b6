"""The synthesizer's deterministic drafting: the board layout from the picture and the findings.

Used on its own when no model is configured (the product works on a machine with no model at
all), and under the model's answer section otherwise. It only restates findings and the picture,
never adds facts; the layout itself is `medboard.agents.synthesizer.board`.
"""

from __future__ import annotations

from collections.abc import Iterable

from medboard.agents.synthesizer.board import Board, compose_board
from medboard.agents.synthesizer.board.base import state
from medboard.agents.synthesizer.gaps import missing_information, relevant_to_question
from medboard.models import Finding, Section, SectionSpec, Statement, default_section
from medboard.models.picture import ClinicalPicture
from medboard.models.sections import BOARD_SECTIONS, BUILTIN_SECTIONS
from medboard.tools.fhir.record import PatientRecord

#: Titles of the built-in sections (a specialist's own sections carry their title in their spec).
SECTION_TITLES: dict[str, str] = {spec.kind: spec.title for spec in (*BUILTIN_SECTIONS, *BOARD_SECTIONS)}


def route(finding: Finding) -> str:
    """The topic a finding was filed under: the one its specialist named, else its category's."""
    return finding.section or default_section(finding.category)


def statement_for(section: str, findings: list[Finding], text: str | None = None) -> Statement:
    """A statement restating (or, with `text`, summarising) the given findings, with their evidence.

    A statement restating exactly one finding carries that finding's structured claim.
    """
    return state(section, text if text is not None else findings[0].text, findings)


def draft_sections(
    findings: list[Finding],
    *,
    question: str | None = None,
    answered_by_model: bool = False,
    declared: Iterable[SectionSpec] = (),
    picture: ClinicalPicture,
    record: PatientRecord | None = None,
) -> list[Section]:
    """The board layout (`medboard.agents.synthesizer.board`) from the picture and the findings."""
    board = Board(
        picture=picture,
        findings=list(findings),
        record=record,
        question=question,
        answered_by_model=answered_by_model,
        declared=tuple(declared),
    )
    return compose_board(board)


__all__ = [
    "SECTION_TITLES",
    "draft_sections",
    "missing_information",
    "relevant_to_question",
    "route",
    "statement_for",
]
