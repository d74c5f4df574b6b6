"""Open questions: what a board would ask for that the record does not give."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section
from medboard.agents.synthesizer.gaps import missing_information
from medboard.models import Section, SectionKind


def open_questions(board: Board) -> list[Section]:
    return [
        section(
            SectionKind.discrepancies_and_open_questions,
            [],
            open_questions=missing_information(board.findings, board.picture),
        )
    ]
