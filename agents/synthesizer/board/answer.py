"""The answer to the board question, without a model: the record's facts that bear on it."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.agents.synthesizer.gaps import missing_information, relevant_to_question
from medboard.models import Section, SectionKind


def answer(board: Board) -> list[Section]:
    if not board.question or board.answered_by_model:
        return []
    relevant = relevant_to_question(board.question, board.findings)
    out = section(
        SectionKind.answer,
        [state(SectionKind.answer, f.text, [f]) for f in relevant],
        open_questions=missing_information(board.findings, board.picture),
    )
    out.status = "degraded"
    out.error = "No model answered the question; these are the record's facts that bear on it."
    return [out]
