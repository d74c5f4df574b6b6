"""Current medications (reconciled: only what the picture calls current) and fitness.

The EHR specialist files the current ones under the ``medications`` topic.
"""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Section, SectionKind


def medications(board: Board) -> list[Section]:
    mine = board.where(lambda f: f.section == SectionKind.medications)
    board.take(mine)
    return [section(SectionKind.medications, [state(SectionKind.medications, f.text, [f]) for f in mine])]
