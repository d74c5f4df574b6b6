"""Data quality: what the reconciliation found wrong with the record (not with the patient)."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Section, SectionKind

DATA_QUALITY_TAGS = frozenset({"data_quality", "data-quality"})


def data_quality(board: Board) -> list[Section]:
    mine = board.where(lambda f: bool(DATA_QUALITY_TAGS & set(f.tags)))
    board.take(mine)
    return [section(SectionKind.data_quality, [state(SectionKind.data_quality, f.text, [f]) for f in mine])]
