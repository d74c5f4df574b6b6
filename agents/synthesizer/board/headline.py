"""The headline: the case in at most 100 words, every clause cited."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section
from medboard.models import Section, SectionKind


def headline(board: Board) -> list[Section]:
    return [section(SectionKind.headline, [])]
