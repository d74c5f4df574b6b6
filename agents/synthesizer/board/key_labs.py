"""Key labs as one table (haemoglobin, WBC/ANC, platelets, renal and liver tests, tumour markers)."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section
from medboard.models import Section, SectionKind


def key_labs(board: Board) -> list[Section]:
    return [section(SectionKind.key_labs, [])]
