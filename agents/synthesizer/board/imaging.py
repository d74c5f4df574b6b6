"""Imaging: what the imaging reader and the record's imaging studies say."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import FindingCategory, Section, SectionKind


def imaging(board: Board) -> list[Section]:
    mine = board.where(lambda f: f.section == SectionKind.imaging or f.category == FindingCategory.imaging)
    board.take(mine)
    return [section(SectionKind.imaging, [state(SectionKind.imaging, f.text, [f]) for f in mine])]
