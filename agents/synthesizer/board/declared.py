"""Sections a specialist declares beyond the built-ins: its findings filed there, as it filed them."""

from __future__ import annotations

from medboard.agents.synthesizer.board.base import Board, section, state
from medboard.models import Section
from medboard.models.sections import BOARD_BY_KIND, BUILTIN_BY_KIND


def declared(board: Board) -> list[Section]:
    out = []
    for spec in board.declared:
        if spec.kind in BOARD_BY_KIND or spec.kind in BUILTIN_BY_KIND:
            continue
        mine = board.where(lambda f, kind=spec.kind: f.section == kind)
        board.take(mine)
        out.append(section(spec.kind, [state(spec.kind, f.text, [f]) for f in mine], title=spec.title))
    return out
